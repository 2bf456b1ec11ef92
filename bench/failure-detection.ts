// bench/failure-detection.ts — how fast a crash is convicted, and whether anything else ever is, in
// the simulator at SPEC §1's defaults (1 s gossip, phi threshold 8).
//
// Detection: a settled cluster of N nodes, then a random node is crashed; we record when the first
// survivor emits member-down for it and when the last one has (every survivor must). Several
// crashes per cluster, one at a time, each after the previous was convicted everywhere and the
// cluster settled. Target: convicted by every survivor within 8 s at every N.
//
// False convictions: N = 100 with 10% message loss, and 10% of the nodes pausing for 4 s at random
// moments (each pause a SIGSTOP as the simulator models it: no ticks, inbound messages held), for a
// number of simulated hours. Target: no member-down event at all.
//
// Usage: npx tsx bench/failure-detection.ts [--sizes 16,64,256,1000] [--crashes 4] [--hours 1]

import { createRandom, pickSome, randomInt } from "../src/core/random.js";
import { median, quantile, writeBenchReport } from "./lib/report.js";
import { intFlag, listFlag, settledCluster } from "./lib/sim.js";

const SIZES = listFlag("sizes", [16, 64, 256, 1_000]);
const CRASHES = intFlag("crashes", 4);
const HOURS = intFlag("hours", 1);
const DETECTION_WITHIN_MS = 60_000;
const TARGET_ALL_MS = 8_000;

interface DetectionRow {
  n: number;
  crashes: number;
  firstMedianS: number;
  allMedianS: number;
  allP99S: number;
  allMaxS: number;
}

const detection: DetectionRow[] = [];
for (const n of SIZES) {
  const firsts: number[] = [];
  const alls: number[] = [];
  const seeds = n >= 1_000 ? [1] : [1, 2];
  for (const seed of seeds) {
    const wallStart = performance.now();
    const { cluster } = settledCluster({ seed: 1_000 + n + seed, nodeCount: n });
    const random = createRandom(seed);
    const crashesHere = Math.ceil(CRASHES / seeds.length);
    for (let i = 0; i < crashesHere; i++) {
      // Never a seed node: a crashed seed is convicted the same way, but keep joins predictable.
      const candidates = cluster
        .liveIds()
        .filter((id) => !["n0001", "n0002", "n0003"].includes(id));
      const victim = candidates[randomInt(random, candidates.length)] as string;
      // Crash at a random phase relative to everyone's ticks.
      cluster.runFor(randomInt(random, 1_000));
      const crashedAt = cluster.nowMs();
      cluster.crash(victim);
      const survivors = cluster.liveIds();
      const took = cluster.waitFor(
        () => cluster.observersSeeingLive(victim, survivors).length === 0,
        {
          withinMs: DETECTION_WITHIN_MS,
          checkEveryMs: 50,
        },
      );
      if (took === null)
        throw new Error(
          `seed=${cluster.seed}: ${victim} not convicted by every survivor within 60 s`,
        );
      const times = [...cluster.downTimes(victim).values()].map((atMs) => atMs - crashedAt);
      firsts.push(Math.min(...times));
      alls.push(took);
      cluster.runFor(15_000);
    }
    process.stderr.write(
      `N=${n} seed=${seed}: all-convicted ${alls
        .slice(-crashesHere)
        .map((ms) => (ms / 1000).toFixed(2))
        .join(", ")} s (${((performance.now() - wallStart) / 1000).toFixed(1)} s wall)\n`,
    );
  }
  detection.push({
    n,
    crashes: alls.length,
    firstMedianS: median(firsts) / 1000,
    allMedianS: median(alls) / 1000,
    allP99S: quantile(alls, 0.99) / 1000,
    allMaxS: Math.max(...alls) / 1000,
  });
}

console.log("\nCrash detection in the simulator (seconds from the crash)");
console.log("     N  crashes  first(median)  all(median)  all(p99)  all(max)");
for (const row of detection) {
  console.log(
    `${String(row.n).padStart(6)}  ${String(row.crashes).padStart(7)}  ${row.firstMedianS.toFixed(2).padStart(13)}  ${row.allMedianS.toFixed(2).padStart(11)}  ${row.allP99S.toFixed(2).padStart(8)}  ${row.allMaxS.toFixed(2).padStart(8)}`,
  );
}

// ---- false convictions
// ---------------------------------------------------------------------------
const FALSE_N = 100;
const wallStart = performance.now();
const { cluster } = settledCluster({ seed: 4_242, nodeCount: FALSE_N });
cluster.setLoss(0.1);
const random = createRandom(4_242);
const downsBefore = cluster.eventCount("member-down");
const simulatedMs = HOURS * 3_600_000;
const endMs = cluster.nowMs() + simulatedMs;
let pauses = 0;
// Each minute, 10% of the nodes pause for 4 s, each at its own random moment within the minute.
while (cluster.nowMs() < endMs) {
  const minuteStart = cluster.nowMs();
  const pausing = pickSome(random, cluster.ids(), FALSE_N / 10);
  const schedule = pausing
    .map((id) => ({ id, atMs: minuteStart + randomInt(random, 55_000) }))
    .sort((a, b) => a.atMs - b.atMs);
  const resumes: { id: string; atMs: number }[] = [];
  for (const { id, atMs } of schedule) {
    while (resumes.length > 0 && (resumes[0] as { atMs: number }).atMs <= atMs) {
      const next = resumes.shift() as { id: string; atMs: number };
      cluster.runUntil(next.atMs);
      cluster.resume(next.id);
    }
    cluster.runUntil(atMs);
    if (cluster.info(id).state === "up") {
      cluster.pause(id);
      pauses++;
      resumes.push({ id, atMs: atMs + 4_000 });
      resumes.sort((a, b) => a.atMs - b.atMs);
    }
  }
  for (const next of resumes) {
    cluster.runUntil(next.atMs);
    cluster.resume(next.id);
  }
  cluster.runUntil(minuteStart + 60_000);
}
const falseConvictions = cluster.eventCount("member-down") - downsBefore;
const falseWallS = (performance.now() - wallStart) / 1000;
console.log(
  `\nFalse convictions: N=${FALSE_N}, 10% loss, ${pauses} pauses of 4 s over ${HOURS} simulated hour(s): ${falseConvictions} member-down events (${falseWallS.toFixed(0)} s wall)`,
);

const worst = Math.max(...detection.map((row) => row.allMaxS));
const written = await writeBenchReport({
  name: "failure-detection",
  description:
    "Simulator at default settings (1 s gossip, heartbeats every 500 ms to 5 monitors, phi threshold 8): seconds from a crash to the first survivor's conviction and to every survivor's; and member-down events over simulated hours at N=100 with 10% message loss and 10% of nodes pausing 4 s every minute.",
  parameters: {
    sizes: SIZES,
    crashesPerSize: CRASHES,
    falseConvictionN: FALSE_N,
    lossProbability: 0.1,
    pauseMs: 4_000,
    hours: HOURS,
  },
  results: {
    detection,
    falseConvictions: { n: FALSE_N, hours: HOURS, pauses, memberDownEvents: falseConvictions },
  },
  targets: [
    {
      name: "convicted by every survivor",
      target: "within 8 s at every N",
      measured: `worst ${worst.toFixed(2)} s`,
      met: worst * 1000 <= TARGET_ALL_MS,
    },
    {
      name: "false convictions",
      target: "none at N=100, 10% loss, 10% of nodes pausing 4 s",
      measured: `${falseConvictions} in ${HOURS} h (${pauses} pauses)`,
      met: falseConvictions === 0,
    },
  ],
  chart: {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Seconds from a crash to conviction (simulator)",
    width: 520,
    height: 300,
    data: {
      values: detection.flatMap((row) => [
        { n: row.n, series: "first survivor (median)", seconds: row.firstMedianS },
        { n: row.n, series: "every survivor (median)", seconds: row.allMedianS },
        { n: row.n, series: "every survivor (max)", seconds: row.allMaxS },
        { n: row.n, series: "target (every survivor)", seconds: TARGET_ALL_MS / 1000 },
      ]),
    },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "n", type: "quantitative", scale: { type: "log" }, title: "nodes (N)" },
      y: { field: "seconds", type: "quantitative", title: "seconds", scale: { zero: true } },
      color: { field: "series", type: "nominal", title: null },
    },
  },
});
console.log(`wrote ${written.join(", ")}`);
