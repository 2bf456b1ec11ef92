// (a) A replica SIGKILLed during a write load and restarted: no acknowledged quorum write is lost,
// and the cluster converges through hints and read repair.

import { describe, it } from "vitest";
import { sleep } from "../support/wait-for.js";
import { runFaultScenario, useFaultCluster, waitLiveness, workersAround } from "./fault-cluster.js";

const handle = useFaultCluster("kill-restart");

const DOWN_MS = 10_000;

describe("a replica SIGKILLed under load and restarted", () => {
  it("keeps every acknowledged quorum write and converges", async () => {
    await runFaultScenario(await handle.start({ nodes: 5 }), {
      name: "kill-restart",
      workers: (cluster) => workersAround(cluster, 3),
      fault: async (cluster, recorder) => {
        recorder.note("SIGKILL node3");
        await cluster.processes.kill("node3");
        await waitLiveness(cluster, 1, 3, false);
        await sleep(DOWN_MS);
        recorder.note("restart node3");
        await cluster.processes.restart("node3");
      },
    });
  });
});
