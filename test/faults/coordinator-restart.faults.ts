// (e) The coordinator restarted while holding hints: node4 is SIGKILLed, clients write through
//     node1
// alone so node1 keeps the hints for node4; node1 is then SIGKILLed and restarted (its hints must
// come back from its own LevelDB), and only then node4 returns. No acknowledged quorum write is
// lost, and node1's hints reach node4.

import { describe, expect, it } from "vitest";
import type { HistoryNode } from "../support/history/recorder.js";
import { sleep, waitFor } from "../support/wait-for.js";
import { hintsPending, runFaultScenario, useFaultCluster, waitLiveness } from "./fault-cluster.js";

const handle = useFaultCluster("coordinator-restart");

/** Writes through node1 while node4 is down: the hints node1 will hold. */
const LOAD_ON_COORDINATOR_MS = 5_000;

describe("a coordinator restarted while it holds hints", () => {
  it("replays its hints from disk after the restart, and keeps every acknowledged quorum write", async () => {
    const cluster = await handle.start({ nodes: 5 });
    let targets: HistoryNode[] = cluster.nodes();
    await runFaultScenario(cluster, {
      name: "coordinator-restart",
      workers: () =>
        Array.from({ length: 6 }, (_, index) => ({ name: `w${index + 1}`, nodes: () => targets })),
      loadBeforeMs: 2_000,
      fault: async (_, recorder) => {
        recorder.note("SIGKILL node4; clients use node1 only");
        await cluster.processes.kill("node4");
        targets = [cluster.node(1)];
        await waitLiveness(cluster, 1, 4, false);
        await sleep(LOAD_ON_COORDINATOR_MS);
        targets = [cluster.node(2), cluster.node(3), cluster.node(5)];
        // A hint is admitted when its write settles and committed a turn later: count node1's hints
        // once no request is left on it (the count holds still for a second), so all of them are on
        // disk.
        let last = -1;
        const held = await waitFor(
          async () => {
            const pending = await hintsPending(cluster.node(1));
            const stable = pending > 0 && pending === last;
            last = pending;
            return stable ? pending : null;
          },
          {
            timeoutMs: 15_000,
            intervalMs: 1_000,
            what: "node1 to hold a steady number of hints for node4",
          },
        );
        recorder.note(`SIGKILL node1 holding ${held} hints`);
        await cluster.processes.kill("node1");
        await cluster.processes.restart("node1");
        const reloaded = await hintsPending(cluster.node(1));
        console.log(
          `[coordinator-restart] node1 held ${held} hints before its SIGKILL and ${reloaded} after its restart`,
        );
        expect(reloaded).toBe(held);
        targets = [cluster.node(1), cluster.node(2), cluster.node(3), cluster.node(5)];
        recorder.note("restart node4");
        await cluster.processes.restart("node4");
        targets = cluster.nodes();
      },
    });
  });
});
