// A node that restarts takes a new generation; every node replaces what it knew of the old one and
// sees it live again.

import { describe, expect, it } from "vitest";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

const NODES = 48;

describe("restart", () => {
  for (const seed of simSeeds([301, 302, 303])) {
    it(`replaces a restarted node's old generation everywhere and sees it live (N = ${NODES}, seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      const settled = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        settled,
        seedMessage(seed, `no convergence before the restart: ${cluster.disagreement()}`),
      ).not.toBeNull();
      cluster.runFor(20_000);

      // One restart after the crash was noticed everywhere, one (a seed) quick enough that few
      // noticed.
      const slow = "n0010";
      const quick = "n0002";
      const oldGeneration = cluster.info(slow).generation;
      cluster.crash(slow);
      const convicted = cluster.waitFor(() => cluster.downTimes(slow).size === NODES - 1, {
        withinMs: 60_000,
      });
      expect(
        convicted,
        seedMessage(seed, `the crash of ${slow} was not noticed by all`),
      ).not.toBeNull();
      cluster.restart(slow);
      cluster.runFor(1_000);
      cluster.restart(quick);
      expect(cluster.info(slow).generation, seedMessage(seed)).toBeGreaterThan(oldGeneration);

      // disagreement() checks every observer sees each member at its current generation, live.
      const recovered = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        recovered,
        seedMessage(
          seed,
          `restarted nodes not recovered: ${cluster.disagreement({ status: "normal" })}`,
        ),
      ).not.toBeNull();
      const restartedSeen = cluster
        .events()
        .filter(({ event }) => event.kind === "member-restarted" && event.id === slow);
      expect(new Set(restartedSeen.map(({ observer }) => observer)).size, seedMessage(seed)).toBe(
        NODES - 1,
      );
      // The tokens survived the restart, so the ring is the same as before.
      expect(cluster.engine(slow).ring().tokensOf(slow), seedMessage(seed)).toEqual([
        ...cluster.info(slow).tokens,
      ]);
    });
  }
});
