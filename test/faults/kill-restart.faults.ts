// (a) A replica SIGKILLed during a write load and restarted: no acknowledged quorum write is lost,
// and the cluster converges through hints and read repair.

import { describe, expect, it } from "vitest";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { expectNoViolations, settleAndCollect, useFaultCluster, watchRecovery, type RecoveryWatch, waitLiveness } from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("kill-restart");

/** Load before the kill, time down, load after the restart. */
const LOAD_BEFORE_MS = 3_000;
const DOWN_MS = 10_000;
const LOAD_AFTER_MS = 5_000;

describe("a replica SIGKILLed under load and restarted", () => {
  it("keeps every acknowledged quorum write and converges", async () => {
    const cluster = await handle.start({ nodes: 5 });
    const recorder = new HistoryRecorder("kill-restart");
    const others = cluster.nodes().filter((node) => node.id !== "node3");
    const load = startWorkload(recorder, {
      seed: faultSeed("kill-restart"),
      keys: 40,
      // Five workers on the other nodes, one on node3 alone: a worker stuck on a node that does
      // not answer (5 s client deadline) would otherwise starve the load the fault is about.
      workers: [
        ...Array.from({ length: 5 }, (_, index) => ({ name: `w${index + 1}`, nodes: others })),
        { name: "w-node3", nodes: [cluster.node(3)] },
      ],
    });
    let recovery: RecoveryWatch | null = null;
    try {
      await sleep(LOAD_BEFORE_MS);
      recorder.note("SIGKILL node3");
      await cluster.processes.kill("node3");
      await waitLiveness(cluster, 1, 3, false);
      await sleep(DOWN_MS);
      recorder.note("restart node3");
      await cluster.processes.restart("node3");
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
