import { describe, expect, it } from "vitest";
import {
  isWorkloadName,
  operationChooser,
  operationsOf,
  WORKLOADS,
  type OperationKind,
} from "../../../src/cli/bench/workload.js";
import { createRandom } from "../../../src/core/random.js";

const SEED = 7_001;
const DRAWS = 10_000;
console.log(`bench workload tests: seed ${SEED}`);

function readShare(name: keyof typeof WORKLOADS, seed = SEED): number {
  const chooser = operationChooser(WORKLOADS[name], createRandom(seed));
  let reads = 0;
  for (let i = 0; i < DRAWS; i++) if (chooser.next() === "read") reads++;
  return reads / DRAWS;
}

describe("YCSB workload mixes", () => {
  it("workload a reads half the time (within 3 points over 10k draws)", () => {
    // σ = 0.005 at 10k draws: the bounds are six σ.
    expect(Math.abs(readShare("a") - 0.5)).toBeLessThan(0.03);
  });

  it("workload b reads 95% of the time (within 2 points over 10k draws)", () => {
    expect(Math.abs(readShare("b") - 0.95)).toBeLessThan(0.02);
  });

  it("workload c only reads and workload w only writes", () => {
    expect(readShare("c")).toBe(1);
    expect(readShare("w")).toBe(0);
  });

  it("draws the same operation sequence from the same seed", () => {
    const sequence = (seed: number): OperationKind[] => {
      const chooser = operationChooser(WORKLOADS.a, createRandom(seed));
      return Array.from({ length: 200 }, () => chooser.next());
    };
    expect(sequence(SEED)).toEqual(sequence(SEED));
    expect(sequence(SEED + 1)).not.toEqual(sequence(SEED));
  });

  it("names the operations each workload reports, and only a, b, c and w", () => {
    expect(operationsOf(WORKLOADS.a)).toEqual(["read", "update"]);
    expect(operationsOf(WORKLOADS.b)).toEqual(["read", "update"]);
    expect(operationsOf(WORKLOADS.c)).toEqual(["read"]);
    expect(operationsOf(WORKLOADS.w)).toEqual(["update"]);
    expect(["a", "b", "c", "w"].every(isWorkloadName)).toBe(true);
    expect(isWorkloadName("d")).toBe(false);
  });
});
