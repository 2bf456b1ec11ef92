// bench/sim-bugs.ts — does the data-path simulator catch real bugs? (issue 15). Each bug is a small
// patch to the node code (bench/sim-bugs/<name>.patch, never committed applied). For each, a
// temporary git worktree of HEAD gets the patch, runs the simulator on the same fixed seeds
// (`grapevine sim --seed S`, one process per seed, so each run is the replayable command), and is
// removed again. The same seeds run once without any patch first: a seed counts as catching a bug
// only when it fails with the bug and passes without it.
//
// The stream bug needs ring changes in the fault plan (range streams run only for bootstraps and
// removals); they are in the default plan since issue 15 closed, and were opt-in when
// bench/results/sim-bugs-ring.json was measured (`--faults …,ring`).
//
// Run: npx tsx bench/sim-bugs.ts [--seeds K] [--first S] [--only name,name] [--out NAME]
// Writes bench/results/NAME.json (sim-bugs by default): per bug, the seeds run until the first
// catch and how many of the K seeds catch it, with each failing seed's first violation.

import { spawnSync } from "node:child_process";
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { intFlag, seedList } from "./lib/sim.js";

const REPO = path.resolve(import.meta.dirname, "..");
const RESULTS_DIR = path.join(REPO, "bench", "results");
/** A failing seed's first violation is kept this long: some quote a whole value. */
const FAILURE_CHARS_MAX = 400;
/** A seed's run gets this long (wall ms) before it counts as hung: a bug may stall a phase. */
const SEED_TIMEOUT_MS = 180_000;

interface BugCase {
  readonly name: string;
  readonly what: string;
  /** The simulator's --faults; "all" is the default plan. */
  readonly faults: string;
}

const BUGS: readonly BugCase[] = [
  {
    name: "stream-cursor-repeats-page",
    what: "a range stream's page after a cursor starts at the cursor's own record (storage/layout.ts)",
    faults: "all",
  },
  {
    name: "hint-deleted-before-ack",
    what: "hint replay deletes a batch before sending it (replication/hinted-handoff.ts)",
    faults: "all",
  },
  {
    name: "ack-after-w-minus-1",
    what: "a write is acknowledged after w-1 replicas (replication/write-round.ts)",
    faults: "all",
  },
  {
    name: "repair-skips-last-range",
    what: "repair leaves out the last range a node replicates (antientropy/anti-entropy-service.ts)",
    faults: "all",
  },
  {
    name: "replica-accepts-future-timestamp",
    what: "a replica stores a write stamped further ahead than the allowed clock offset (node/node-route-options.ts)",
    faults: "all",
  },
];

interface SeedRun {
  readonly seed: number;
  readonly ok: boolean;
  readonly wallMs: number;
  /** The first violation's line (`seed S broke KIND…`), or why the run did not finish. */
  readonly failure: string | null;
}

function git(args: readonly string[], cwd: string): void {
  const run = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
}

function runSeed(worktree: string, seed: number, faults: string): SeedRun {
  const startedMs = Date.now();
  const run = spawnSync(
    "npx",
    ["tsx", "src/cli/main.ts", "sim", "--seed", String(seed), "--faults", faults],
    {
      cwd: worktree,
      encoding: "utf8",
      timeout: SEED_TIMEOUT_MS,
    },
  );
  const wallMs = Date.now() - startedMs;
  if (run.status === 0) return { seed, ok: true, wallMs, failure: null };
  const broke = run.stderr.split("\n").find((line) => line.startsWith(`seed ${seed} broke`));
  const failure =
    broke ??
    (run.error !== undefined
      ? `did not finish: ${run.error.message}`
      : `exit ${run.status ?? run.signal}: ${run.stderr.slice(-FAILURE_CHARS_MAX)}`);
  return { seed, ok: false, wallMs, failure: failure.slice(0, FAILURE_CHARS_MAX) };
}

/**
 * Runs `seeds` in a temporary worktree of HEAD with `patch` applied (none: HEAD as is); always
 * removes it.
 */
async function runPatched(
  patch: string | null,
  seeds: readonly number[],
  faults: string,
): Promise<SeedRun[]> {
  const parent = await mkdtemp(path.join(os.tmpdir(), "sim-bugs-"));
  const worktree = path.join(parent, "wt");
  git(["worktree", "add", "--detach", worktree, "HEAD"], REPO);
  try {
    await symlink(path.join(REPO, "node_modules"), path.join(worktree, "node_modules"));
    if (patch !== null)
      git(["apply", path.join(REPO, "bench", "sim-bugs", `${patch}.patch`)], worktree);
    const runs: SeedRun[] = [];
    for (const seed of seeds) {
      const run = runSeed(worktree, seed, faults);
      console.log(
        `${patch ?? "no bug"} [${faults}] seed ${seed}: ${run.ok ? "ok" : run.failure} (${(run.wallMs / 1000).toFixed(1)} s)`,
      );
      runs.push(run);
    }
    return runs;
  } finally {
    git(["worktree", "remove", "--force", worktree], REPO);
    await rm(parent, { recursive: true, force: true });
  }
}

function listFlagOf(name: string): string[] | null {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? null : String(process.argv[index + 1]).split(",");
}

async function main(): Promise<void> {
  const seeds = seedList(intFlag("seeds", 10), intFlag("first", 1));
  const only = listFlagOf("only");
  const cases = BUGS.filter((bug) => only === null || only.includes(bug.name));
  const baselines = new Map<string, SeedRun[]>();
  for (const faults of new Set(cases.map((bug) => bug.faults)))
    baselines.set(faults, await runPatched(null, seeds, faults));
  const bugs = [];
  for (const bug of cases) {
    const runs = await runPatched(bug.name, seeds, bug.faults);
    const baseline = baselines.get(bug.faults) ?? [];
    const catches = runs.map((run, index) => !run.ok && baseline[index]?.ok === true);
    const first = catches.indexOf(true);
    bugs.push({
      ...bug,
      patch: `bench/sim-bugs/${bug.name}.patch`,
      seedsUntilFirstCatch: first < 0 ? null : first + 1,
      caught: catches.filter(Boolean).length,
      of: seeds.length,
      runs,
    });
  }
  const baseline = Object.fromEntries([...baselines].map(([faults, runs]) => [faults, runs]));
  const report = {
    name: "sim-bugs",
    description:
      "Seeds of the data-path simulator until each reintroduced bug is caught (issue 15)",
    measuredAt: new Date().toISOString(),
    commit: spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim(),
    machine: { cpus: os.cpus().length, node: process.version },
    seeds,
    bugs,
    baseline,
  };
  const outPath = path.join(RESULTS_DIR, `${listFlagOf("out")?.[0] ?? "sim-bugs"}.json`);
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
  for (const bug of bugs) {
    console.log(
      `${bug.name} [${bug.faults}]: first caught after ${bug.seedsUntilFirstCatch ?? "-"} seeds, ${bug.caught}/${bug.of} seeds catch it`,
    );
  }
}

await main();
