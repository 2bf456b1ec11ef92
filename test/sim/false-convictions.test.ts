// No false convictions: with 10% message loss and a few nodes stalled for 4 s each (a long GC, a
// SIGSTOP), nobody is ever convicted over several simulated minutes.

import { describe, expect, it } from "vitest";
import { createRandom, pickSome, randomInt } from "../../src/core/random.js";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

const NODES = 100;
const PAUSE_MS = 4_000;
const PAUSED_NODES = 6;
const RUN_MS = 180_000;

describe("false convictions", () => {
  for (const seed of simSeeds([401, 402])) {
    it(`convicts nobody under 10% loss and 4 s pauses (N = ${NODES}, ${RUN_MS / 60_000} simulated minutes, seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES, network: { lossProbability: 0.1 } });
      const startMs = cluster.nowMs();
      const downs: string[] = [];
      cluster.onEvent(({ atMs, observer, event }) => {
        if (event.kind === "member-down")
          downs.push(`${observer} convicted ${event.id} at +${Math.round(atMs - startMs)} ms`);
      });
      cluster.startAll();
      const settled = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        settled,
        seedMessage(seed, `no convergence under loss: ${cluster.disagreement()}`),
      ).not.toBeNull();

      // The pauses are spread over the run, one per slot, each at a seeded moment in its slot.
      const random = createRandom(seed);
      const victims = pickSome(random, cluster.ids(), PAUSED_NODES);
      const runStartMs = cluster.nowMs();
      const slotMs = RUN_MS / PAUSED_NODES;
      victims.forEach((victim, slot) => {
        cluster.runUntil(runStartMs + slot * slotMs + randomInt(random, slotMs - PAUSE_MS));
        cluster.pause(victim);
        cluster.runFor(PAUSE_MS);
        cluster.resume(victim);
      });
      cluster.runUntil(runStartMs + RUN_MS);

      expect(downs.slice(0, 10), seedMessage(seed, `${downs.length} false convictions`)).toEqual(
        [],
      );
      expect(
        cluster.disagreement({ status: "normal", ring: "tokens" }),
        seedMessage(seed),
      ).toBeNull();
    });
  }
});
