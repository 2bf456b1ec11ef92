// Ring changes in every node's view, under virtual time (the pure parts of issue 5): a leaving
// member stays in the current ring and leaves the future one, so writes reach its ranges' new
// replicas (pending replicas) while it streams; once left it is in no ring; a dead member removed
// by another (removenode) is seen leaving, then disappears from every view; and at most one ring
// change is in progress everywhere.

import { describe, expect, it } from "vitest";
import { isTopologyEngine, type TopologyEngine } from "../../src/cluster/engine.js";
import { pendingReplicasFor, replicasFor } from "../../src/ring/placement.js";
import { randomTokens } from "../../src/ring/tokens.js";
import { createRandom } from "../../src/core/random.js";
import { SimCluster } from "../../src/sim/sim-cluster.js";
import { seedMessage, simSeeds } from "../support/sim-seed.js";

const NODES = 6;
const RF = 3;

function topology(cluster: SimCluster, id: string): TopologyEngine {
  const engine = cluster.engine(id);
  if (!isTopologyEngine(engine)) throw new Error("the sim runs the real engine");
  return engine;
}

describe("ring changes in the cluster views", () => {
  for (const seed of simSeeds([501, 502])) {
    it(`decommission: leaving keeps the current ring, empties the future one, then left drops it (seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      expect(
        cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
          withinMs: 60_000,
          checkEveryMs: 100,
        }),
        seedMessage(seed),
      ).not.toBeNull();
      const ids = cluster.ids();
      const leaver = ids[ids.length - 1] as string;
      const others = ids.filter((id) => id !== leaver);

      topology(cluster, leaver).setStatus("leaving");
      const seen = cluster.waitFor(
        () =>
          others.every((id) =>
            topology(cluster, id)
              .ringChanges()
              .some((change) => change.kind === "decommission" && change.id === leaver),
          ),
        { withinMs: 10_000, checkEveryMs: 100 },
      );
      expect(seen, seedMessage(seed, "not every view saw the decommission")).not.toBeNull();
      for (const id of others) {
        const view = topology(cluster, id);
        expect(view.ring().nodes(), seedMessage(seed)).toContain(leaver);
        expect(view.futureRing().nodes(), seedMessage(seed)).not.toContain(leaver);
        // Wherever the leaver is a replica now, the future replica that replaces it is pending.
        for (const token of randomTokens(createRandom(seed), 200)) {
          const now = replicasFor(view.ring(), token, RF);
          const pending = pendingReplicasFor(view.ring(), view.futureRing(), token, RF);
          expect(pending.length, seedMessage(seed)).toBe(now.includes(leaver) ? 1 : 0);
        }
      }

      topology(cluster, leaver).setStatus("left");
      const gone = cluster.waitFor(
        () =>
          others.every(
            (id) =>
              !topology(cluster, id).ring().nodes().includes(leaver) &&
              topology(cluster, id).ringChanges().length === 0,
          ),
        { withinMs: 10_000, checkEveryMs: 100 },
      );
      expect(gone, seedMessage(seed, "the left node is still in some ring")).not.toBeNull();
      for (const id of others) {
        // Nothing is changing any more: the future ring is the current one (the coordinator's fast
        // path).
        expect(topology(cluster, id).futureRing(), seedMessage(seed)).toBe(
          topology(cluster, id).ring(),
        );
        expect(topology(cluster, id).isLive(leaver), seedMessage(seed)).toBe(false);
      }
    });

    it(`removenode: a crashed member announced removed by one node disappears from every view (seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      expect(
        cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
          withinMs: 60_000,
          checkEveryMs: 100,
        }),
        seedMessage(seed),
      ).not.toBeNull();
      const ids = cluster.ids();
      const victim = ids[2] as string;
      const remover = ids[0] as string;
      const survivors = ids.filter((id) => id !== victim);
      cluster.crash(victim);
      expect(
        cluster.waitFor(() => survivors.every((id) => !cluster.engine(id).isLive(victim)), {
          withinMs: 60_000,
          checkEveryMs: 100,
        }),
        seedMessage(seed, "the crash was not noticed"),
      ).not.toBeNull();

      topology(cluster, remover).announceRemoval(victim, "removing");
      expect(
        cluster.waitFor(
          () =>
            survivors.every((id) =>
              topology(cluster, id)
                .ringChanges()
                .some((change) => change.kind === "removenode" && change.id === victim),
            ),
          { withinMs: 10_000, checkEveryMs: 100 },
        ),
        seedMessage(seed, "not every survivor saw the removal start"),
      ).not.toBeNull();
      for (const id of survivors) {
        const view = topology(cluster, id);
        expect(
          view.members(cluster.nowMs()).find((member) => member.id === victim)?.status,
          seedMessage(seed),
        ).toBe("leaving");
        expect(view.futureRing().nodes(), seedMessage(seed)).not.toContain(victim);
      }

      topology(cluster, remover).announceRemoval(victim, "removed");
      expect(
        cluster.waitFor(
          () =>
            survivors.every((id) =>
              topology(cluster, id)
                .members(cluster.nowMs())
                .every((member) => member.id !== victim),
            ),
          { withinMs: 10_000, checkEveryMs: 100 },
        ),
        seedMessage(seed, "the removed member is still listed somewhere"),
      ).not.toBeNull();
      for (const id of survivors) {
        const view = topology(cluster, id);
        expect(view.ring().nodes(), seedMessage(seed)).not.toContain(victim);
        expect(view.ringChanges(), seedMessage(seed)).toEqual([]);
        expect(view.isRemoved(victim), seedMessage(seed)).toBe(true);
      }
    });

    it(`a joiner that died mid-bootstrap blocks other changes until it is removed, and its removal moves nothing (seed ${seed})`, () => {
      const cluster = new SimCluster({ seed, nodeCount: NODES });
      cluster.startAll();
      expect(
        cluster.waitFor(() => cluster.disagreement({ status: "normal" }) === null, {
          withinMs: 60_000,
          checkEveryMs: 100,
        }),
        seedMessage(seed),
      ).not.toBeNull();
      const ids = cluster.ids();
      const joiner = ids[3] as string;
      const remover = ids[0] as string;
      const survivors = ids.filter((id) => id !== joiner);
      // Seen as a node that announced its tokens in state joining, then crashed.
      topology(cluster, joiner).setStatus("joining");
      expect(
        cluster.waitFor(
          () =>
            survivors.every((id) =>
              topology(cluster, id)
                .ringChanges()
                .some((change) => change.kind === "bootstrap" && change.id === joiner),
            ),
          { withinMs: 10_000, checkEveryMs: 100 },
        ),
        seedMessage(seed),
      ).not.toBeNull();
      cluster.crash(joiner);
      expect(
        cluster.waitFor(() => survivors.every((id) => !cluster.engine(id).isLive(joiner)), {
          withinMs: 60_000,
          checkEveryMs: 100,
        }),
        seedMessage(seed),
      ).not.toBeNull();
      // Still in progress everywhere: nothing else may start.
      for (const id of survivors)
        expect(
          topology(cluster, id)
            .ringChanges()
            .map((change) => change.id),
          seedMessage(seed),
        ).toEqual([joiner]);

      topology(cluster, remover).announceRemoval(joiner, "removing");
      expect(
        cluster.waitFor(
          () => survivors.every((id) => topology(cluster, id).ringChanges().length === 0),
          { withinMs: 10_000, checkEveryMs: 100 },
        ),
        seedMessage(seed, "the dead joiner still blocks ring changes"),
      ).not.toBeNull();
      for (const id of survivors) {
        const view = topology(cluster, id);
        expect(view.ring().nodes(), seedMessage(seed)).not.toContain(joiner);
        // The joiner never held data: current and future rings agree, nothing streams.
        expect(view.futureRing(), seedMessage(seed)).toBe(view.ring());
      }
    });
  }
});
