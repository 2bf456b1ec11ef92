// cli/sim.ts — `grapevine sim`: the data-path simulator (issue 15) from the command line.
//
//   grapevine sim --seeds 20            twenty fresh random seeds, one progress line each
//   grapevine sim --seed 1234           replays one run exactly (same events, same order)
//   grapevine sim --soak-s 600          fresh seeds until the time is up
//   grapevine sim --seeds 20 --sync off the nodes without fsync: power losses may take what the
//                                       promise lets them (history/power-loss.ts), nothing more
//
// A run that breaks a promise prints its seed, the first violated property and the shortest
// excerpt of its history that shows it, and the command exits 1; `--seed` with that seed replays
// it.

import { randomInt } from "node:crypto";
import type { Command } from "commander";
import { DATA_RUN_DEFAULTS, runDataSimulation, type DataRunResult } from "../sim/data-run.js";
import { FAULT_KINDS, type FaultKind } from "../sim/fault-plan.js";
import { excerptFor, formatOp } from "../sim/history/excerpt.js";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";

export const SIM_LIMITS = {
  seedsMax: 1_000_000,
  nodesMin: 3,
  nodesMax: 32,
  workersMax: 256,
  faultPhaseMsMax: 3_600_000,
  soakSMax: 7 * 24 * 3_600,
  /** Operations of a failing run's history printed around its first violation. */
  excerptOps: 12,
} as const;

interface SimCommandOptions {
  readonly seeds?: string;
  readonly seed?: string;
  readonly soakS?: string;
  readonly nodes: string;
  readonly workers: string;
  readonly faultPhaseMs: string;
  readonly faults: string;
  readonly sync: string;
}

function integerIn(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CliError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
      EXIT_CODES.usage,
    );
  }
  return value;
}

function faultKindsOf(text: string): ReadonlySet<FaultKind> {
  if (text === "none") return new Set();
  if (text === "all") return DATA_RUN_DEFAULTS.faultKinds;
  const kinds = text.split(",").map((kind) => kind.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new CliError(
        `--faults takes all, none or a list of ${FAULT_KINDS.join(", ")}; got ${kind}`,
        EXIT_CODES.usage,
      );
    }
  }
  return new Set(kinds as FaultKind[]);
}

function syncOf(text: string): "on" | "off" {
  if (text === "on" || text === "off") return text;
  throw new CliError(`--sync takes on or off, got ${JSON.stringify(text)}`, EXIT_CODES.usage);
}

/** One line per run: its seed, operations, virtual time, verdict. */
function progressLine(result: DataRunResult, wallMs: number, index: number): string {
  const verdict = result.check.ok ? "ok" : `FAILED (${result.check.violations.length} violations)`;
  const virtualS = (result.virtualMs / 1000).toFixed(0);
  return `run ${index + 1} seed ${result.seed}: ${result.operations} ops, ${virtualS} s simulated in ${(wallMs / 1000).toFixed(1)} s, ${verdict}`;
}

/** The seed, the first violated property, and the history excerpt that shows it. */
export function failureReport(result: DataRunResult): string[] {
  const first = result.check.violations[0];
  if (first === undefined) return [];
  const where = first.key === "" ? "" : ` on key ${JSON.stringify(first.key)}`;
  const lines = [
    `seed ${result.seed} broke ${first.kind}${where}: ${first.message}`,
    `replay: grapevine sim --seed ${result.seed}${result.history.durability?.sync === "off" ? " --sync off" : ""}`,
    "history excerpt:",
    ...excerptFor(result.history, first, SIM_LIMITS.excerptOps).map((op) => `  ${formatOp(op)}`),
  ];
  return lines;
}

function planSeeds(options: SimCommandOptions): { seeds: number[] | null; soakMs: number | null } {
  if (options.seed !== undefined) {
    return { seeds: [integerIn("--seed", options.seed, 0, 2 ** 32 - 1)], soakMs: null };
  }
  if (options.soakS !== undefined) {
    return {
      seeds: null,
      soakMs: integerIn("--soak-s", options.soakS, 1, SIM_LIMITS.soakSMax) * 1000,
    };
  }
  const count = integerIn("--seeds", options.seeds ?? "1", 1, SIM_LIMITS.seedsMax);
  return { seeds: Array.from({ length: count }, () => randomInt(0, 2 ** 32)), soakMs: null };
}

async function runSimCommand(options: SimCommandOptions, output: CliOutput): Promise<ExitCode> {
  const nodes = integerIn("--nodes", options.nodes, SIM_LIMITS.nodesMin, SIM_LIMITS.nodesMax);
  const run = {
    ...DATA_RUN_DEFAULTS,
    nodes,
    workers: integerIn("--workers", options.workers, 1, SIM_LIMITS.workersMax),
    faultPhaseMs: integerIn(
      "--fault-phase-ms",
      options.faultPhaseMs,
      1_000,
      SIM_LIMITS.faultPhaseMsMax,
    ),
    faultKinds: faultKindsOf(options.faults),
    sync: syncOf(options.sync),
  };
  const { seeds, soakMs } = planSeeds(options);
  const startedMs = Date.now();
  let failed = 0;
  for (let index = 0; ; index++) {
    const seed = seeds === null ? randomInt(0, 2 ** 32) : seeds[index];
    if (seed === undefined || (soakMs !== null && Date.now() - startedMs >= soakMs)) break;
    const runStartMs = Date.now();
    const result = await runDataSimulation({ ...run, seed });
    output.out(`${progressLine(result, Date.now() - runStartMs, index)}\n`);
    if (!result.check.ok) {
      failed++;
      for (const line of failureReport(result)) output.err(`${line}\n`);
    }
  }
  return failed === 0 ? EXIT_CODES.ok : EXIT_CODES.failed;
}

export function registerSimCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("sim")
    .description(
      "run the deterministic simulation of the data path: real nodes, simulated time, network and disks",
    )
    .option("--seeds <n>", "fresh random seeds to run", "1")
    .option("--seed <s>", "replay one run exactly")
    .option("--soak-s <s>", "run fresh seeds until this many seconds have passed")
    .option("--nodes <n>", "nodes in the simulated cluster", String(DATA_RUN_DEFAULTS.nodes))
    .option(
      "--workers <n>",
      "client workers, one operation in flight each",
      String(DATA_RUN_DEFAULTS.workers),
    )
    .option(
      "--fault-phase-ms <ms>",
      "virtual time of workload and faults before the heal",
      String(DATA_RUN_DEFAULTS.faultPhaseMs),
    )
    .option("--faults <kinds>", "all, none, or a comma list of fault families", "all")
    .option(
      "--sync <on|off>",
      "the nodes' --sync: off lets a power loss take unsynced writes, judged by the promise that then applies",
      "on",
    )
    .action(async (options: SimCommandOptions) => {
      setExit(await runSimCommand(options, output));
    });
}
