// The data path under simulation (issue 15): real nodes (buildNodeCore) on simulated disks and a
// simulated network, a workload at every consistency level, a seeded fault plan, then heal, repair
// and the history judge, with the nodes' invariants watched throughout (src/sim/run-invariants.ts).
// The nodes run --sync on, and some seeds with --sync off, where the judge holds a power loss to
// the promise that then applies (src/sim/history/power-loss.ts). A fixed set of seeds, plus a batch
// of fresh ones each run for a time budget (each printed with its seed as it finishes); a failure
// names its seed and prints the first violation with the excerpt that shows it, and
// `SIM_SEED=<n> npx vitest run test/sim/data-path.test.ts` or `grapevine sim --seed <n>` replays
// it.

import { randomInt } from "node:crypto";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { failureReport } from "../../src/cli/sim.js";
import {
  DATA_RUN_DEFAULTS,
  runDataSimulation,
  type DataRunOptions,
} from "../../src/sim/data-run.js";
import type { FaultKind } from "../../src/sim/fault-plan.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

/**
 * Seeds kept because they once found something (52404903: a write refused with 503 was stored;
 * 1078068180: sync off under power loss; 392755977: a hint replayed a write refused for its
 * stamp once the clocks agreed), or cover a fault family well; never removed.
 */
const FIXED_SEEDS = [1, 2, 3, 15_001, 15_002, 52_404_903, 1_078_068_180, 392_755_977];
/**
 * Wall time the fresh seeds may take, s ($SIM_FRESH_BUDGET_S overrides): ten seconds keeps the
 * whole suite within its ten minutes beside the ring seeds' minute; `npm run sim:soak` runs fresh
 * seeds for as long as one wants (about 2,800 operations a second here).
 */
const FRESH_BUDGET_S = 10;
/**
 * Fresh seeds run even when the budget is gone after the first: a slow machine still covers some.
 */
const FRESH_SEEDS_MIN = 2;
/** Bounds the batch on a fast machine, and the test's own timeout with it. */
const FRESH_SEEDS_MAX = 200;
const FRESH_RUN_TIMEOUT_MS = 120_000;

/**
 * Seeds run with --sync off, each with a power loss while writes were unsynced (102: n1 at 11.4 s;
 * 103: n1 at 10.5 s, and its hint stores reach their bound). 356131291: n1's clock stepped back
 * 860 ms while its slow disk held a write it had stamped at its wall clock, and the future-record
 * watch, judging by the wall clock at landing, called it 512 ms ahead (it now judges by the wall
 * clock when the node took the record: sim/future-record-watch.ts).
 */
const SYNC_OFF_SEEDS = [102, 103, 2, 356_131_291];
/**
 * Crash faults only, --sync off: before a node repaired after a reboot that took its unsynced tail
 * (node/run-record.ts), a quorum read that paired it with the replica the write had missed returned
 * an older value (seeds 8 and 11; one replica's loss, which SPEC §4's read promise allows for).
 */
const SYNC_OFF_CRASH_SEEDS = [8, 11];

/**
 * Ring changes under faults, at the CLI's default fault phase where they were found. A quorum read
 * returned an older value: a write acknowledged by a quorum of the current replicas missed the
 * pending one that then served reads (4089250117; fixed by counting pending replicas into the
 * level, CASSANDRA-833); the ring check judged a bootstrap still settling (1024439534,
 * 1592581112). With bootstraps while nodes crash (--faults ring,crash): stale quorum reads (3, 4)
 * and a removal forgotten when its remover restarted (5; removal tombstones).
 * 3597543889: n2, killed, restarted at the heal while its removenode waited; the removal went on
 * and marked the live member removed, nothing streamed (it now fails: topology/remove-node.ts).
 */
const RING_SEEDS = [4_089_250_117, 1_024_439_534, 1_592_581_112, 3_597_543_889];
const RING_CRASH_SEEDS = [3, 4, 5];
const RING_FAULT_PHASE_MS = DATA_RUN_DEFAULTS.faultPhaseMs;

const RUN: Omit<DataRunOptions, "seed"> = { ...DATA_RUN_DEFAULTS, faultPhaseMs: 20_000 };

/** How a seed is run when it is not the suite's default (RUN, --sync on, every fault family). */
interface SeedRun {
  readonly sync?: "on" | "off";
  readonly faults?: readonly FaultKind[];
  readonly faultPhaseMs?: number;
}

/** Runs one seed and judges it; returns the workload's operations. */
async function judge(seed: number, run: SeedRun = {}): Promise<number> {
  const sync = run.sync ?? "on";
  const faultPhaseMs = run.faultPhaseMs ?? RUN.faultPhaseMs;
  const faults = run.faults === undefined ? {} : { faultKinds: new Set(run.faults) };
  const result = await runDataSimulation({ ...RUN, ...faults, seed, sync, faultPhaseMs });
  const faultsFlag = run.faults === undefined ? "" : ` --faults ${run.faults.join(",")}`;
  const replay = `replay: grapevine sim --seed ${seed} --sync ${sync}${faultsFlag} --fault-phase-ms ${faultPhaseMs}`;
  const report = [...failureReport(result), replay].join("\n");
  expect(result.operations, seedMessage(seed, "the workload ran")).toBeGreaterThan(100);
  expect(result.check.violations, seedMessage(seed, report)).toEqual([]);
  return result.operations;
}

function freshBudgetMs(): number {
  const text = process.env["SIM_FRESH_BUDGET_S"];
  const seconds = text === undefined || text === "" ? FRESH_BUDGET_S : Number(text);
  if (!(Number.isFinite(seconds) && seconds >= 0))
    throw new Error(`SIM_FRESH_BUDGET_S must be seconds ≥ 0, got ${text}`);
  return seconds * 1000;
}

/**
 * Fresh random seeds one after another until the budget would run out (a seed starts only if one
 * more run of the slowest length so far still fits), each printed with its seed as it passes.
 */
async function freshBatch(budgetMs: number): Promise<void> {
  const startedMs = performance.now();
  let slowestMs = 0;
  let operations = 0;
  let runs = 0;
  while (runs < FRESH_SEEDS_MAX) {
    const elapsedMs = performance.now() - startedMs;
    if (runs >= FRESH_SEEDS_MIN && elapsedMs + slowestMs > budgetMs) break;
    const seed = randomInt(0, 2 ** 32);
    // Every other fresh seed holds a power loss to the promise of --sync off.
    const sync = runs % 2 === 0 ? "on" : "off";
    const runStartMs = performance.now();
    operations += await judge(seed, { sync });
    const runMs = performance.now() - runStartMs;
    slowestMs = Math.max(slowestMs, runMs);
    runs += 1;
    console.log(`fresh seed=${seed} --sync ${sync}: ok in ${(runMs / 1000).toFixed(1)} s`);
  }
  const totalS = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`fresh seeds: ${runs} runs, ${operations} operations in ${totalS} s`);
}

describe("the data path under simulated faults", () => {
  for (const seed of simSeeds(FIXED_SEEDS)) {
    it(`keeps every promise, seed=${seed}`, { timeout: 120_000 }, () => judge(seed));
  }

  for (const seed of simSeeds(SYNC_OFF_SEEDS)) {
    it(
      `keeps the promise of --sync off under power losses, seed=${seed}`,
      { timeout: 120_000 },
      () => judge(seed, { sync: "off" }),
    );
  }

  for (const seed of simSeeds(SYNC_OFF_CRASH_SEEDS)) {
    it(
      `with --sync off, a node rebooted after a power loss reads nothing until it repaired, seed=${seed}`,
      { timeout: 120_000 },
      () => judge(seed, { sync: "off", faults: ["crash"] }),
    );
  }

  for (const seed of simSeeds(RING_SEEDS)) {
    it(`keeps every promise through ring changes, seed=${seed}`, { timeout: 120_000 }, () =>
      judge(seed, { faultPhaseMs: RING_FAULT_PHASE_MS }),
    );
  }

  for (const seed of simSeeds(RING_CRASH_SEEDS)) {
    it(
      `keeps every promise when nodes crash during ring changes, seed=${seed}`,
      { timeout: 120_000 },
      () => judge(seed, { faults: ["ring", "crash"], faultPhaseMs: RING_FAULT_PHASE_MS }),
    );
  }

  it(
    "with --sync off excuses only the losses that two replicas' power losses allow, seed=313",
    { timeout: 120_000 },
    async () => {
      // Crash faults only, twice as often: five power losses, on n4 (three times), n3 and n1.
      const crashes = {
        ...RUN,
        seed: 313,
        sync: "off" as const,
        faultKinds: new Set(["crash" as const]),
        meanFaultGapMs: 1_500,
      };
      const result = await runDataSimulation(crashes);
      expect(result.check.violations, seedMessage(313, failureReport(result).join("\n"))).toEqual(
        [],
      );
      // If a change of the simulator moves this seed's losses, pick a seed whose power losses take
      // writes.
      expect(
        result.check.summary.lossesExcused,
        seedMessage(313, "power losses took acknowledged writes"),
      ).toBeGreaterThan(0);
    },
  );

  if (process.env["SIM_SEED"] === undefined) {
    const budgetMs = freshBudgetMs();
    const timeout = budgetMs + (FRESH_SEEDS_MIN + 1) * FRESH_RUN_TIMEOUT_MS;
    it(`keeps every promise on fresh seeds for ${budgetMs / 1000} s`, { timeout }, () =>
      freshBatch(budgetMs),
    );
  }

  it("replays a run exactly from its seed", { timeout: 120_000 }, async () => {
    const options = { ...RUN, seed: 7, faultPhaseMs: 8_000 };
    const first = await runDataSimulation(options);
    const second = await runDataSimulation(options);
    expect(second.eventsRun, seedMessage(7)).toBe(first.eventsRun);
    expect(JSON.stringify(second.history), seedMessage(7)).toBe(JSON.stringify(first.history));
  });

  it("runs without faults with every operation acknowledged", { timeout: 120_000 }, async () => {
    const result = await runDataSimulation({
      ...RUN,
      seed: 11,
      faultKinds: new Set(),
      faultPhaseMs: 8_000,
    });
    expect(result.check.ok, seedMessage(11)).toBe(true);
    expect(result.check.summary.failed + result.check.summary.indeterminate, seedMessage(11)).toBe(
      0,
    );
  });
});
