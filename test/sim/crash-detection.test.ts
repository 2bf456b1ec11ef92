// A crashed node is convicted by every survivor. The detection time is checked only against a
// generous bound, as a sanity check; the real figures come from the failure-detection bench, not
// from tests.

import { describe, expect, it } from "vitest";
import { pickOne, createRandom } from "../../src/core/random.js";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

const NODES = 64;
/**
 * The detector's design target is about 8 s to be known everywhere; 30 s only catches a broken one.
 */
const DETECTION_MS_SANITY_MAX = 30_000;

describe("crash detection", () => {
  for (const seed of simSeeds([101, 102, 103])) {
    it(`gets every survivor to convict a crashed node (N = ${NODES}, seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      const settled = cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
        withinMs: 60_000,
      });
      expect(
        settled,
        seedMessage(seed, `no convergence before the crash: ${cluster.disagreement()}`),
      ).not.toBeNull();
      // Let the detectors fill their arrival windows before anything fails.
      cluster.runFor(20_000);

      const victim = pickOne(createRandom(seed), cluster.ids()) as string;
      const crashedAtMs = cluster.nowMs();
      cluster.crash(victim);
      const survivors = cluster.liveIds();
      const took = cluster.waitFor(() => cluster.downTimes(victim).size === survivors.length, {
        withinMs: 60_000,
        checkEveryMs: 250,
      });
      const missing = survivors.filter((id) => !cluster.downTimes(victim).has(id));
      expect(
        took,
        seedMessage(
          seed,
          `${missing.length} survivors never convicted ${victim}: ${missing.slice(0, 5).join(", ")}`,
        ),
      ).not.toBeNull();

      const detectionMs = Math.max(...cluster.downTimes(victim).values()) - crashedAtMs;
      expect(
        detectionMs,
        seedMessage(seed, `the last survivor convicted ${victim} after ${detectionMs} ms`),
      ).toBeLessThan(DETECTION_MS_SANITY_MAX);
      expect(
        cluster.disagreement({ status: "normal", ring: "tokens" }),
        seedMessage(seed),
      ).toBeNull();
      // Only the victim was convicted.
      expect(cluster.eventCount("member-down"), seedMessage(seed)).toBe(survivors.length);
    });
  }
});
