// The workload seed of a fault scenario: FAULT_SEED=<n> repeats a run's choices of keys, operations
// and nodes (the faults' timing is real time, so a run is not replayed exactly, only its workload).

export function faultSeed(scenario: string): number {
  const fixed = process.env["FAULT_SEED"];
  const seed = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${scenario}] workload seed ${seed} (FAULT_SEED=${seed} repeats it)`);
  return seed;
}
