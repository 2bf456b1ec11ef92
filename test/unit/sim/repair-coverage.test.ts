// The `repair-coverage` run invariant (src/sim/repair-coverage.ts): a node's finished full repair
// compares every (range, other replica) pair the ring gives it; fewer is a breach, and a job that
// failed or still runs is not judged.

import { describe, expect, it } from "vitest";
import type { RepairJobView } from "../../../src/antientropy/anti-entropy-service.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { repairCoverageViolation, repairPairsOf } from "../../../src/sim/repair-coverage.js";

function jobOf(state: RepairJobView["state"], rangesCompared: number): RepairJobView {
  return { state, summary: { rangesCompared } } as unknown as RepairJobView;
}

describe("a full repair's coverage of the ring", () => {
  // Four nodes with two tokens each: eight ranges, each on three of them.
  const ring = TokenMap.build(
    new Map([
      ["n1", [10n, 50n]],
      ["n2", [20n, 60n]],
      ["n3", [30n, 70n]],
      ["n4", [40n, 80n]],
    ]),
  );

  it("counts each range a node replicates once per other replica", () => {
    // rf 3 over 4 nodes: a node replicates 6 of the 8 ranges, each with 2 others.
    expect(repairPairsOf(ring, "n1", 3)).toBe(12);
    expect(repairPairsOf(ring, "n1", 1)).toBe(0);
  });

  it("holds a finished job to those pairs", () => {
    expect(repairCoverageViolation(jobOf("done", 12), "n1", 12)).toBeNull();
    expect(repairCoverageViolation(jobOf("done", 10), "n1", 12)).toBe(
      "n1's full repair compared 10 (range, replica) pairs of the 12 it shares with other replicas in the ring",
    );
    expect(repairCoverageViolation(jobOf("failed", 3), "n1", 12)).toBeNull();
    expect(repairCoverageViolation(jobOf("running", 3), "n1", 12)).toBeNull();
  });
});
