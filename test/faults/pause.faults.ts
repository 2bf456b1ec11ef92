// (d) A replica paused for 10 s (SIGSTOP, then SIGCONT) under load: its peers time out on it and
// keep hints; no acknowledged quorum write is lost, and it converges after it resumes.

import { describe, expect, it } from "vitest";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { expectNoViolations, settleAndCollect, useFaultCluster, watchRecovery, type RecoveryWatch } from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("pause");

const LOAD_BEFORE_MS = 3_000;
/** The 10 s pause: the subject of the test, so a sleep. */
const PAUSE_MS = 10_000;
const LOAD_AFTER_MS = 5_000;

describe("a replica paused for 10 s under load", () => {
  it("keeps every acknowledged quorum write and converges after it resumes", async () => {
    const cluster = await handle.start({ nodes: 5 });
    const recorder = new HistoryRecorder("pause");
    const others = cluster.nodes().filter((node) => node.id !== "node2");
    const load = startWorkload(recorder, {
      seed: faultSeed("pause"),
      keys: 40,
      // Five workers on the other nodes, one on node2 alone: a worker stuck on a node that does
      // not answer (5 s client deadline) would otherwise starve the load the fault is about.
      workers: [
        ...Array.from({ length: 5 }, (_, index) => ({ name: `w${index + 1}`, nodes: others })),
        { name: "w-node2", nodes: [cluster.node(2)] },
      ],
    });
    let recovery: RecoveryWatch | null = null;
    try {
      await sleep(LOAD_BEFORE_MS);
      recorder.note("SIGSTOP node2");
      await cluster.processes.pause("node2");
      await sleep(PAUSE_MS);
      recorder.note("SIGCONT node2");
      await cluster.processes.resume("node2");
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
