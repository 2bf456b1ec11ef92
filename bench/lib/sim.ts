// bench/lib/sim.ts — what the membership benches share: a simulated cluster brought to a settled
// state (everyone knows everyone, all live, same ring) before the thing being measured starts.

import { SimCluster, type SimClusterOptions } from "../../src/sim/sim-cluster.js";

export interface SettledClusterOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly seedCount?: number;
  readonly network?: SimClusterOptions["network"];
  readonly engine?: SimClusterOptions["engine"];
  /** Virtual ms allowed for the join; the bench fails loudly past it. */
  readonly joinWithinMs?: number;
  /** Virtual ms run after convergence so detectors have full windows and rumors have died down. */
  readonly settleMs?: number;
}

/** Starts every node at once, waits until all views agree, then lets the cluster settle. */
export function settledCluster(options: SettledClusterOptions): {
  cluster: SimCluster;
  joinMs: number;
} {
  const cluster = new SimCluster({
    seed: options.seed,
    nodeCount: options.nodeCount,
    seedCount: options.seedCount ?? 3,
    ...(options.network !== undefined ? { network: options.network } : {}),
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
  });
  cluster.startAll();
  const joinMs = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
    withinMs: options.joinWithinMs ?? 300_000,
    checkEveryMs: 1_000,
  });
  if (joinMs === null) {
    throw new Error(
      `seed=${options.seed} N=${options.nodeCount}: no convergence: ${cluster.disagreement({ status: "normal" })}`,
    );
  }
  cluster.runFor(options.settleMs ?? 20_000);
  return { cluster, joinMs };
}

/** A stable list of seeds for a bench: 1, 2, 3, … */
export function seedList(count: number, first = 1): number[] {
  return Array.from({ length: count }, (_unused, i) => first + i);
}

/** Reads an integer flag `--name N` from argv, else the fallback. */
export function intFlag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} takes a whole number`);
  return value;
}

/** Reads a comma-separated integer list flag `--name 16,64`, else the fallback. */
export function listFlag(name: string, fallback: readonly number[]): number[] {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return [...fallback];
  const values = String(process.argv[index + 1])
    .split(",")
    .map(Number);
  if (values.some((value) => !Number.isInteger(value) || value <= 0))
    throw new Error(`--${name} takes numbers like 16,64`);
  return values;
}
