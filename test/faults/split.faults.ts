// (c) The cluster split 2|3 with clients on both sides (iptables rules between the groups; every
//     node
// still serves the test's clients): quorum writes succeed only where a key has a quorum of
// replicas, no acknowledged quorum write is lost, and both sides converge after the heal.

import { describe, it } from "vitest";
import { sleep } from "../support/wait-for.js";
import { runFaultScenario, useFaultCluster, waitLiveness } from "./fault-cluster.js";

const handle = useFaultCluster("split");

const SPLIT_MS = 20_000;

describe("the cluster split 2|3 with clients on both sides", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    await runFaultScenario(await handle.start({ nodes: 5 }), {
      name: "split",
      workers: (cluster) => {
        const minority = [cluster.node(1), cluster.node(2)];
        const majority = [cluster.node(3), cluster.node(4), cluster.node(5)];
        return [
          { name: "min1", nodes: minority },
          { name: "min2", nodes: minority },
          { name: "min-one", nodes: minority, writeLevel: "one", readLevel: "one" },
          { name: "maj1", nodes: majority },
          { name: "maj2", nodes: majority },
          { name: "maj-one", nodes: majority, writeLevel: "one", readLevel: "one" },
        ];
      },
      fault: async (cluster, recorder) => {
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
      },
    });
  });
});
