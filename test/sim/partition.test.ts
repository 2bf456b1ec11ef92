// A partition into two halves: each half convicts the other side, and once the partition heals the
// cluster merges again: everyone live, and every view agreeing.

import { describe, expect, it } from "vitest";
import { createRandom, pickSome } from "../../src/core/random.js";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

const NODES = 64;

describe("partition", () => {
  for (const seed of simSeeds([201, 202, 203])) {
    it(`makes each half convict the other and re-merges after heal (N = ${NODES}, seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      const settled = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        settled,
        seedMessage(seed, `no convergence before the partition: ${cluster.disagreement()}`),
      ).not.toBeNull();
      cluster.runFor(20_000);

      // A random half, not the first half by id, so the seeds and the monitor ring are split
      // arbitrarily.
      const ids = cluster.ids();
      const left = pickSome(createRandom(seed), ids, NODES / 2).sort();
      const right = ids.filter((id) => !left.includes(id));
      cluster.partition([left, right]);
      const split = cluster.waitFor(
        () =>
          cluster.disagreement({ observers: left, live: left }) === null &&
          cluster.disagreement({ observers: right, live: right }) === null,
        { withinMs: 60_000 },
      );
      expect(
        split,
        seedMessage(
          seed,
          `the halves did not convict each other: left ${cluster.disagreement({ observers: left, live: left })}; right ${cluster.disagreement({ observers: right, live: right })}`,
        ),
      ).not.toBeNull();

      cluster.heal();
      const merged = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        merged,
        seedMessage(
          seed,
          `no re-merge within 60 s of heal: ${cluster.disagreement({ status: "normal" })}`,
        ),
      ).not.toBeNull();
      // Still merged a while later: no flapping once healed.
      cluster.runFor(20_000);
      expect(
        cluster.disagreement({ status: "normal", ring: "tokens" }),
        seedMessage(seed),
      ).toBeNull();
    });
  }
});
