// A run is its seed (TigerBeetle's VOPR rule): the same seed replays the same run event for event,
// which is what makes a printed `seed=<n>` worth printing; a different seed gives a different run.

import { describe, expect, it } from "vitest";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

/**
 * A faulty little run: loss, a crash, a pause and a restart; returns everything observable about
 * it.
 */
function replay(seed: number): { events: string[]; sent: number; bytes: number; lost: number } {
  const cluster = new SimCluster({ seed, nodeCount: 24, network: { lossProbability: 0.05 } });
  cluster.startAll();
  cluster.runFor(10_000);
  cluster.crash("n0007");
  cluster.pause("n0011");
  cluster.runFor(3_000);
  cluster.resume("n0011");
  cluster.runFor(10_000);
  cluster.restart("n0007");
  cluster.runFor(10_000);
  const stats = cluster.network.stats();
  return {
    events: cluster
      .events()
      .map(({ atMs, observer, event }) => `${atMs} ${observer} ${JSON.stringify(event)}`),
    sent: stats.sent,
    bytes: stats.bytesSent,
    lost: stats.lost.loss,
  };
}

describe("determinism", () => {
  for (const seed of simSeeds([501, 502])) {
    it(`replays the same run for the same seed, event for event (seed ${seed})`, () => {
      const first = replay(seed);
      const second = replay(seed);
      expect(first.events.length, seedMessage(seed, "the run emitted no events")).toBeGreaterThan(
        24 * 23,
      );
      expect(second, seedMessage(seed)).toEqual(first);
      const other = replay(seed + 1_000);
      expect(other.events, seedMessage(seed, "another seed gave the very same run")).not.toEqual(
        first.events,
      );
    });
  }
});
