// Seeds for simulation tests. A simulated run is a pure function of its seed (ARCHITECTURE §4), so
// a test names its seeds, every assertion message starts with `seed=<n>`, and a failing seed can be
// replayed alone: `SIM_SEED=<n> npx vitest run test/sim/<file>` runs only that seed.

/** The seeds a test runs: its own list, or only $SIM_SEED when set (to replay a failure). */
export function simSeeds(seeds: readonly number[]): readonly number[] {
  const only = process.env["SIM_SEED"];
  if (only === undefined || only === "") return seeds;
  const seed = Number(only);
  if (!Number.isSafeInteger(seed)) throw new Error(`SIM_SEED must be an integer, got ${only}`);
  return [seed];
}

/** An assertion message that names the seed, so a failure says how to reproduce it. */
export function seedMessage(seed: number, detail: string | null = null): string {
  return detail === null ? `seed=${seed}` : `seed=${seed}: ${detail}`;
}
