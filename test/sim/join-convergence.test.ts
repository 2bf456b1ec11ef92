// Joining through seeds: every node, started at once and knowing only the seeds' addresses, ends up
// with the same member set, the same ring and everyone live in state normal (nodes start normal
// here; the joining → normal transition belongs to topology/ and is out of scope).

import { describe, expect, it } from "vitest";
import { createRandom, pickSome } from "../../src/core/random.js";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

/**
 * Observers whose rings are also compared token by token after the fingerprints agree: building a
 * 16,000-token ring costs ~40 ms, so all 1,000 would add half a minute to a test that checks the
 * fingerprints of all 1,000 anyway.
 */
const TOKEN_CHECKED_OBSERVERS = 25;

describe("join convergence", () => {
  for (const seed of simSeeds([1])) {
    it(`brings 1,000 nodes joining through 3 seeds to one membership and one ring (seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: 1_000, seedCount: 3 });
      cluster.startAll();
      const tookMs = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 120_000,
        checkEveryMs: 2_000,
      });
      expect(
        tookMs,
        seedMessage(
          seed,
          `no convergence within 120 s: ${cluster.disagreement({ status: "normal" })}`,
        ),
      ).not.toBeNull();
      const sample = [
        "n0001",
        "n0002",
        "n0003",
        ...pickSome(createRandom(seed), cluster.ids().slice(3), TOKEN_CHECKED_OBSERVERS),
      ];
      expect(
        cluster.disagreement({ observers: sample, ring: "tokens" }),
        seedMessage(seed),
      ).toBeNull();
      const ring = cluster.engine("n0001").ring();
      expect(ring.nodes().length, seedMessage(seed)).toBe(1_000);
      expect(ring.size, seedMessage(seed)).toBe(16_000);
      expect(
        cluster.eventCount("member-down"),
        seedMessage(seed, "a node was convicted while joining"),
      ).toBe(0);
    }, 180_000);
  }

  for (const seed of simSeeds([2, 3, 4])) {
    it(`converges with 10% of messages lost (N = 200, seed ${seed})`, () => {
      const cluster = new SimCluster({
        seed,
        nodeCount: 200,
        seedCount: 3,
        network: { lossProbability: 0.1 },
      });
      cluster.startAll();
      const tookMs = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 120_000,
        checkEveryMs: 1_000,
      });
      expect(
        tookMs,
        seedMessage(
          seed,
          `no convergence within 120 s: ${cluster.disagreement({ status: "normal" })}`,
        ),
      ).not.toBeNull();
      expect(
        cluster.disagreement({ status: "normal", ring: "tokens" }),
        seedMessage(seed),
      ).toBeNull();
      expect(
        cluster.network.stats().lost.loss,
        seedMessage(seed, "the network lost nothing"),
      ).toBeGreaterThan(0);
      expect(cluster.engine("n0200").ring().nodes().length, seedMessage(seed)).toBe(200);
    });
  }
});
