// sim/repair-coverage.ts — the `repair-coverage` run invariant: a node's full repair compares every
// range it replicates with every other replica of it. The simulator counts those (range, peer)
// pairs from the ring itself and holds each node's finished repair job to them. Without it a repair
// that leaves ranges out is seen only when a replica of such a range still differs at the end,
// which a run rarely leaves (hints and read repair mend most). Pure.

import type { RepairJobView } from "../antientropy/anti-entropy-service.js";
import { rangesReplicatedOn } from "../ring/placement.js";
import type { TokenMap } from "../ring/token-map.js";

/** (range, other replica) pairs a full repair on `self` compares in `ring`. */
export function repairPairsOf(ring: TokenMap, self: string, replicationFactor: number): number {
  let pairs = 0;
  for (const range of rangesReplicatedOn(ring, self, replicationFactor)) {
    pairs += range.replicas.filter((replica) => replica !== self).length;
  }
  return pairs;
}

/**
 * Why a finished full repair did not cover the ring, or null (also for a job that did not finish).
 */
export function repairCoverageViolation(
  job: RepairJobView,
  self: string,
  expectedPairs: number,
): string | null {
  if (job.state !== "done" || job.summary.rangesCompared >= expectedPairs) return null;
  return `${self}'s full repair compared ${job.summary.rangesCompared} (range, replica) pairs of the ${expectedPairs} it shares with other replicas in the ring`;
}
