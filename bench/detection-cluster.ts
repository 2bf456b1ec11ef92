// bench/detection-cluster.ts — crash detection with real processes: 5 `grapevine start` nodes on
// 127.0.0.1 at the default settings; one is SIGKILLed, and every survivor's /cluster/status is
// polled every 50 ms until all report it not live. The node is then restarted and the cluster
// allowed to settle before the next round. Target: convicted by every survivor within 8 s.
//
// Usage: npm run build && npx tsx bench/detection-cluster.ts [--rounds 5]

import { ProcessCluster } from "../test/support/process-cluster.js";
import { fetchJson } from "../test/support/http.js";
import { waitFor } from "../test/support/wait-for.js";
import { median, writeBenchReport } from "./lib/report.js";
import { intFlag } from "./lib/sim.js";

const ROUNDS = intFlag("rounds", 5);
const NODE_IDS = ["node1", "node2", "node3", "node4", "node5"];
const TARGET_MS = 8_000;

interface StatusBody {
  members: { id: string; live: boolean; state: string }[];
}

const cluster = new ProcessCluster("detection-bench");
const results: { victim: string; firstS: number; allS: number }[] = [];
try {
  const seed = await cluster.start({ id: "node1" });
  await cluster.startAll(NODE_IDS.slice(1).map((id) => ({ id, seeds: [seed.address] })));
  const status = async (id: string): Promise<StatusBody> =>
    fetchJson<StatusBody>(`${cluster.node(id).url}/cluster/status`);
  const allLive = async (): Promise<boolean> => {
    const views = await Promise.all(NODE_IDS.map(status));
    return views.every(
      (view) =>
        view.members.length === NODE_IDS.length && view.members.every((member) => member.live),
    );
  };
  await waitFor(allLive, { timeoutMs: 30_000, intervalMs: 200, what: "5 live members everywhere" });

  for (let round = 0; round < ROUNDS; round++) {
    const victim = NODE_IDS[1 + (round % (NODE_IDS.length - 1))] as string;
    const survivors = NODE_IDS.filter((id) => id !== victim);
    // Detectors need a full window of arrivals; let the cluster run a while first.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const killedAt = performance.now();
    await cluster.kill(victim);
    const convictedAt = new Map<string, number>();
    await waitFor(
      async () => {
        const views = await Promise.all(
          survivors.map(async (id) => ({ id, view: await status(id) })),
        );
        for (const { id, view } of views) {
          if (
            !convictedAt.has(id) &&
            view.members.find((member) => member.id === victim)?.live === false
          )
            convictedAt.set(id, performance.now() - killedAt);
        }
        return convictedAt.size === survivors.length;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: `every survivor to convict ${victim}` },
    );
    const times = [...convictedAt.values()];
    results.push({ victim, firstS: Math.min(...times) / 1000, allS: Math.max(...times) / 1000 });
    process.stderr.write(
      `round ${round + 1}: ${victim} convicted by the first survivor in ${(Math.min(...times) / 1000).toFixed(2)} s, by all in ${(Math.max(...times) / 1000).toFixed(2)} s\n`,
    );
    await cluster.restart(victim);
    await waitFor(allLive, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `${victim} live again everywhere`,
    });
  }
} finally {
  await cluster.cleanup();
}

const allMedian = median(results.map((r) => r.allS));
const allMax = Math.max(...results.map((r) => r.allS));
console.log(
  `\n5 processes, default settings, ${results.length} SIGKILLs: first conviction median ${median(results.map((r) => r.firstS)).toFixed(2)} s; all survivors median ${allMedian.toFixed(2)} s, max ${allMax.toFixed(2)} s`,
);
const written = await writeBenchReport({
  name: "detection-cluster",
  description:
    "5 real grapevine processes on 127.0.0.1 at default settings; seconds from SIGKILL of one node until the first and until every survivor's /cluster/status reports it not live (polled every 50 ms).",
  parameters: { nodes: NODE_IDS.length, rounds: ROUNDS, pollMs: 50 },
  results,
  targets: [
    {
      name: "convicted by every survivor (5 processes)",
      target: "within 8 s",
      measured: `median ${allMedian.toFixed(2)} s, max ${allMax.toFixed(2)} s`,
      met: allMax * 1000 <= TARGET_MS,
    },
  ],
  chart: {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "SIGKILL to conviction, 5 processes",
    width: 420,
    height: 260,
    data: {
      values: results.flatMap((r, i) => [
        { round: i + 1, series: "first survivor", seconds: r.firstS },
        { round: i + 1, series: "every survivor", seconds: r.allS },
      ]),
    },
    mark: { type: "bar" },
    encoding: {
      x: { field: "round", type: "ordinal" },
      xOffset: { field: "series" },
      y: { field: "seconds", type: "quantitative" },
      color: { field: "series", type: "nominal", title: null },
    },
  },
});
console.log(`wrote ${written.join(", ")}`);
