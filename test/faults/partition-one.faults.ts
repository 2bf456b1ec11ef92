// (b) One node cut off the network for 30 s under load (its bridge port down: nothing in or out,
// clients included), then reconnected: no acknowledged quorum write is lost, and the cluster converges
// through the hints the others kept for it and read repair.

import { describe, expect, it } from "vitest";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { expectNoViolations, settleAndCollect, useFaultCluster, watchRecovery, type RecoveryWatch, waitLiveness } from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("partition-one");

const LOAD_BEFORE_MS = 3_000;
/** The 30 s partition. */
const CUT_MS = 30_000;
const LOAD_AFTER_MS = 5_000;

describe("one node partitioned away for 30 s under load", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    const cluster = await handle.start({ nodes: 5 });
    const recorder = new HistoryRecorder("partition-one");
    const others = cluster.nodes().filter((node) => node.id !== "node5");
    const load = startWorkload(recorder, {
      seed: faultSeed("partition-one"),
      keys: 40,
      // Five workers on the other nodes, one on node5 alone: a worker stuck on a node that does
      // not answer (5 s client deadline) would otherwise starve the load the fault is about.
      workers: [
        ...Array.from({ length: 5 }, (_, index) => ({ name: `w${index + 1}`, nodes: others })),
        { name: "w-node5", nodes: [cluster.node(5)] },
      ],
    });
    let recovery: RecoveryWatch | null = null;
    try {
      await sleep(LOAD_BEFORE_MS);
      recorder.note("cut node5 off");
      const cutAtMs = recorder.nowMs();
      await cluster.network.cut(5);
      await waitLiveness(cluster, 1, 5, false);
      await sleep(Math.max(0, CUT_MS - (recorder.nowMs() - cutAtMs)));
      recorder.note("reconnect node5");
      await cluster.network.heal();
      recovery = watchRecovery(cluster, recorder);
      await sleep(LOAD_AFTER_MS);
    } finally {
      await load.stop();
    }
    if (recovery === null) throw new Error("the fault was never healed");
    const settled = await settleAndCollect(cluster, recorder, recovery);
    expectNoViolations(recorder);
    expect(settled.convergedMs).not.toBeNull();
  });
});
