// (b) One node cut off the network for 30 s under load (its bridge port down: nothing in or out,
// clients included), then reconnected: no acknowledged quorum write is lost, and the cluster
// converges through the hints the others kept for it and read repair.

import { describe, it } from "vitest";
import { sleep } from "../support/wait-for.js";
import { runFaultScenario, useFaultCluster, waitLiveness, workersAround } from "./fault-cluster.js";

const handle = useFaultCluster("partition-one");

/** The 30 s partition. */
const CUT_MS = 30_000;

describe("one node partitioned away for 30 s under load", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    await runFaultScenario(await handle.start({ nodes: 5 }), {
      name: "partition-one",
      workers: (cluster) => workersAround(cluster, 5),
      fault: async (cluster, recorder) => {
        recorder.note("cut node5 off");
        const cutAtMs = recorder.nowMs();
        await cluster.network.cut(5);
        await waitLiveness(cluster, 1, 5, false);
        await sleep(Math.max(0, CUT_MS - (recorder.nowMs() - cutAtMs)));
        recorder.note("reconnect node5");
        await cluster.network.heal();
      },
    });
  });
});
