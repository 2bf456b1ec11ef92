// One direction cut: packets from node1 no longer arrive at node2 (node2's still reach node1), for
// 15 s under load. Every other pair is untouched, so the two disagree about each other while the rest
// sees both live: no acknowledged quorum write is lost, and the cluster converges after the heal.

import { describe, expect, it } from "vitest";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep } from "../support/wait-for.js";
import { expectNoViolations, settleAndCollect, useFaultCluster, watchRecovery, type RecoveryWatch } from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("one-direction");

const LOAD_BEFORE_MS = 3_000;
const ISOLATED_MS = 15_000;
const LOAD_AFTER_MS = 5_000;

describe("node1 → node2 cut in one direction for 15 s under load", () => {
  it("keeps every acknowledged quorum write and converges after the heal", async () => {
    const cluster = await handle.start({ nodes: 5 });
    const recorder = new HistoryRecorder("one-direction");
    const all = cluster.nodes();
    const load = startWorkload(recorder, {
      seed: faultSeed("one-direction"),
      keys: 40,
      workers: Array.from({ length: 6 }, (_, index) => ({ name: `w${index + 1}`, nodes: all })),
    });
    let recovery: RecoveryWatch | null = null;
    try {
      await sleep(LOAD_BEFORE_MS);
      recorder.note("drop node1 → node2");
      await cluster.network.isolateOneDirection(1, 2);
      await sleep(ISOLATED_MS);
      recorder.note("heal node1 → node2");
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
