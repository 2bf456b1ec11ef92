// One direction cut: packets from node1 no longer arrive at node2 (node2's still reach node1), for
// 15 s under load. Every other pair is untouched, so the two disagree about each other while the
// rest sees both live: no acknowledged quorum write is lost, and the cluster converges after the
// heal.

import { describe, it } from "vitest";
import { sleep } from "../support/wait-for.js";
import { runFaultScenario, useFaultCluster } from "./fault-cluster.js";

const handle = useFaultCluster("one-direction");

const ISOLATED_MS = 15_000;

describe("node1 → node2 cut in one direction for 15 s under load", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    await runFaultScenario(await handle.start({ nodes: 5 }), {
      name: "one-direction",
      workers: (cluster) =>
        Array.from({ length: 6 }, (_, index) => ({
          name: `w${index + 1}`,
          nodes: cluster.nodes(),
        })),
      fault: async (cluster, recorder) => {
        recorder.note("drop node1 → node2");
        await cluster.network.isolateOneDirection(1, 2);
        await sleep(ISOLATED_MS);
        recorder.note("heal node1 → node2");
        await cluster.network.heal();
      },
    });
  });
});
