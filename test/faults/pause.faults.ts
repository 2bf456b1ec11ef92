// (d) A replica paused for 10 s (SIGSTOP, then SIGCONT) under load: its peers time out on it and
// keep hints; no acknowledged quorum write is lost, and it converges after it resumes.

import { describe, it } from "vitest";
import { sleep } from "../support/wait-for.js";
import { runFaultScenario, useFaultCluster, workersAround } from "./fault-cluster.js";

const handle = useFaultCluster("pause");

/** The 10 s pause: the subject of the test, so a sleep. */
const PAUSE_MS = 10_000;

describe("a replica paused for 10 s under load", () => {
  it("keeps every acknowledged quorum write and converges after it resumes", async () => {
    await runFaultScenario(await handle.start({ nodes: 5 }), {
      name: "pause",
      workers: (cluster) => workersAround(cluster, 2),
      fault: async (cluster, recorder) => {
        recorder.note("SIGSTOP node2");
        await cluster.processes.pause("node2");
        await sleep(PAUSE_MS);
        recorder.note("SIGCONT node2");
        await cluster.processes.resume("node2");
      },
    });
  });
});
