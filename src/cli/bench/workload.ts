// cli/bench/workload.ts — the operation mix of YCSB's core workloads (SPEC §6).
//
// Theory of operation. A workload is a fixed read/update proportion, as in YCSB's
// workloads/workload{a,b,c} files (readproportion, updateproportion); `w` is Grapevine's write-only
// mix (YCSB has no core write-only workload; its load phase is one). A chooser draws one operation
// per call from a seeded Random, independently of earlier draws, so over n draws the read share is
// Binomial(n, p) around the workload's proportion. Updates write a whole value (YCSB's
// writeallfields=true) since a Grapevine value is one opaque field.

import { assert } from "../../core/assert.js";
import type { Random } from "../../core/random.js";

export const WORKLOAD_NAMES = ["a", "b", "c", "w"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export const OPERATION_KINDS = ["read", "update"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  /** Share of operations that read, 0..1; the rest update. */
  readonly readProportion: number;
}

export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  a: {
    name: "a",
    description: "update heavy: 50% read, 50% update (YCSB workload A)",
    readProportion: 0.5,
  },
  b: {
    name: "b",
    description: "read mostly: 95% read, 5% update (YCSB workload B)",
    readProportion: 0.95,
  },
  c: { name: "c", description: "read only (YCSB workload C)", readProportion: 1 },
  w: { name: "w", description: "write only: 100% update", readProportion: 0 },
};

export function isWorkloadName(value: string): value is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(value);
}

export interface OperationChooser {
  next(): OperationKind;
}

export function operationChooser(workload: Workload, random: Random): OperationChooser {
  const read = workload.readProportion;
  assert(read >= 0 && read <= 1, () => `read proportion out of range: ${read}`);
  // The pure mixes draw nothing, so a read-only run's key sequence does not depend on the mix.
  if (read === 1) return { next: () => "read" };
  if (read === 0) return { next: () => "update" };
  return { next: () => (random.next() < read ? "read" : "update") };
}

/** The operations a workload can issue, in report order. */
export function operationsOf(workload: Workload): OperationKind[] {
  return OPERATION_KINDS.filter((kind) =>
    kind === "read" ? workload.readProportion > 0 : workload.readProportion < 1,
  );
}
