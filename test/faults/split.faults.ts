// (c) The cluster split 2|3 with clients on both sides (iptables rules between the groups; every node
// still serves the test's clients): quorum writes succeed only where a key has a quorum of replicas,
// no acknowledged quorum write is lost, and both sides converge after the heal.

import { describe, expect, it } from "vitest";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { expectNoViolations, settleAndCollect, useFaultCluster, watchRecovery, type RecoveryWatch, waitLiveness } from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("split");

const LOAD_BEFORE_MS = 3_000;
const SPLIT_MS = 20_000;
const LOAD_AFTER_MS = 5_000;

describe("the cluster split 2|3 with clients on both sides", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    const cluster = await handle.start({ nodes: 5 });
    const recorder = new HistoryRecorder("split");
    const minority = [cluster.node(1), cluster.node(2)];
    const majority = [cluster.node(3), cluster.node(4), cluster.node(5)];
    const load = startWorkload(recorder, {
      seed: faultSeed("split"),
      keys: 40,
      workers: [
        { name: "min1", nodes: minority },
        { name: "min2", nodes: minority },
        { name: "min-one", nodes: minority, writeLevel: "one", readLevel: "one" },
        { name: "maj1", nodes: majority },
        { name: "maj2", nodes: majority },
        { name: "maj-one", nodes: majority, writeLevel: "one", readLevel: "one" },
      ],
    });
    let recovery: RecoveryWatch | null = null;
    try {
      await sleep(LOAD_BEFORE_MS);
      recorder.note("split {node1,node2} | {node3,node4,node5}");
      const splitAtMs = recorder.nowMs();
      await cluster.network.partition([
        [1, 2],
        [3, 4, 5],
      ]);
      await waitLiveness(cluster, 1, 3, false);
      await waitLiveness(cluster, 3, 1, false);
      await sleep(Math.max(0, SPLIT_MS - (recorder.nowMs() - splitAtMs)));
      recorder.note("heal the split");
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
