// The web console's pure browser code (ui/, plain ES modules run by the browser as they are): the
// Prometheus text it parses, the p50/p99 it reads off two scrapes of the latency histogram, the
// rates and ETAs of work in progress, and the ranges it highlights as a key's replicas. Loaded by
// URL, as the browser does; the console's files carry JSDoc, not TypeScript types, so the shapes
// used here are declared below.

import { describe, expect, it } from "vitest";

interface Bucket {
  readonly le: number;
  readonly count: number;
}
type Scrape = Map<string, unknown>;
interface MetricsModule {
  parsePrometheus(text: string): Scrape;
  quantile(buckets: readonly Bucket[], q: number): number | null;
  kvWindow(
    before: Scrape,
    after: Scrape,
    seconds: number,
  ): Record<string, { rate: number; p50: number | null; p99: number | null }>;
  byLabel(scrape: Scrape, name: string, label: string): Map<string, number>;
}
interface Range {
  readonly start: string;
  readonly end: string;
  readonly owner: string;
}
interface RingModule {
  turnOf(token: string): number;
  replicaRanges(ranges: readonly Range[], token: string, replicas: readonly string[]): Range[];
}
interface ProgressModule {
  rateAndEta(
    before: number,
    after: number,
    seconds: number,
    remaining: number,
  ): { rate: number; eta: number | null };
}

async function load<T>(file: string): Promise<T> {
  return (await import(new URL(`../../../ui/${file}`, import.meta.url).href)) as T;
}

const metrics = await load<MetricsModule>("metrics.js");
const ring = await load<RingModule>("ring.js");
const progress = await load<ProgressModule>("progress.js");

/** A scrape with `counts` requests of route put in the buckets 1 ms, 10 ms, 100 ms, +Inf. */
function scrapeOf(counts: readonly [number, number, number, number]): Scrape {
  const bounds = ["0.001", "0.01", "0.1", "+Inf"];
  let cumulative = 0;
  const lines = ["# TYPE grapevine_kv_request_duration_seconds histogram"];
  for (const [index, le] of bounds.entries()) {
    cumulative += counts[index] ?? 0;
    // Split over two statuses, which the console sums.
    const half = Math.floor(cumulative / 2);
    lines.push(
      `grapevine_kv_request_duration_seconds_bucket{le="${le}",route="put",consistency="quorum",status="204"} ${cumulative - half}`,
      `grapevine_kv_request_duration_seconds_bucket{le="${le}",route="put",consistency="quorum",status="503"} ${half}`,
    );
  }
  lines.push('grapevine_hints_pending{peer="node2"} 7', 'grapevine_hints_pending{peer="node3"} 1');
  return metrics.parsePrometheus(lines.join("\n"));
}

describe("the console's metrics", () => {
  it("reads p50 and p99 off a histogram as histogram_quantile does", () => {
    const buckets = [
      { le: 0.001, count: 50 },
      { le: 0.01, count: 90 },
      { le: 0.1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(metrics.quantile(buckets, 0.5)).toBeCloseTo(0.001);
    expect(metrics.quantile(buckets, 0.99)).toBeCloseTo(0.01 + 0.09 * 0.9);
    expect(metrics.quantile([{ le: Infinity, count: 0 }], 0.5)).toBeNull();
  });

  it("gives each route's rate and latency between two scrapes, summed over labels", () => {
    const before = scrapeOf([10, 0, 0, 0]);
    const after = scrapeOf([10, 100, 0, 0]);
    const window = metrics.kvWindow(before, after, 2);
    expect(window["put"]?.rate).toBe(50);
    // Every request of the window is in the 1–10 ms bucket.
    expect(window["put"]?.p50).toBeCloseTo(5.5);
    expect(window["get"]).toEqual({ rate: 0, p50: null, p99: null });
    expect(metrics.byLabel(after, "hints_pending", "peer")).toEqual(
      new Map([
        ["node2", 7],
        ["node3", 1],
      ]),
    );
  });

  it("takes a scrape after a restart (counters lower) as the whole window", () => {
    const window = metrics.kvWindow(scrapeOf([0, 500, 0, 0]), scrapeOf([4, 0, 0, 0]), 1);
    expect(window["put"]?.rate).toBe(4);
  });
});

describe("the console's progress", () => {
  it("gives a rate and the time left at it, and no ETA without progress", () => {
    expect(progress.rateAndEta(10, 30, 2, 100)).toEqual({ rate: 10, eta: 10 });
    expect(progress.rateAndEta(30, 30, 2, 100)).toEqual({ rate: 0, eta: null });
    expect(progress.rateAndEta(30, 30, 2, 0)).toEqual({ rate: 0, eta: 0 });
  });
});

describe("the console's ring", () => {
  const ranges: Range[] = [
    { start: "f000000000000000", end: "2000000000000000", owner: "a" },
    { start: "2000000000000000", end: "4000000000000000", owner: "a" },
    { start: "4000000000000000", end: "8000000000000000", owner: "b" },
    { start: "8000000000000000", end: "f000000000000000", owner: "c" },
  ];

  it("places tokens on the circle by their value", () => {
    expect(ring.turnOf("0000000000000000")).toBe(0);
    expect(ring.turnOf("8000000000000000")).toBe(0.5);
  });

  it("highlights, clockwise from the key's token, the first range of each replica", () => {
    expect(ring.replicaRanges(ranges, "3000000000000000", ["a", "b"])).toEqual([
      ranges[1],
      ranges[2],
    ]);
    // Past the last token the walk wraps to the first range.
    expect(ring.replicaRanges(ranges, "f800000000000000", ["a", "b"])).toEqual([
      ranges[0],
      ranges[2],
    ]);
  });
});
