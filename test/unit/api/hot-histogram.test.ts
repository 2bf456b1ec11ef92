import { describe, expect, it } from "vitest";
import { Counter, Histogram, Registry } from "prom-client";
import { HotHistogram } from "../../../src/api/hot-histogram.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVATIONS: readonly [string, string, number][] = [
  ["put", "204", 0.0005],
  ["put", "204", 0.001],
  ["put", "204", 0.05],
  ["get", "200", 2],
  ["get", "404", 0.01],
  ["put", "204", 0.0011],
  ["get", "200", 0],
];

describe("HotHistogram", () => {
  it("prints exactly what prom-client's Histogram and Counter print for the same observations", async () => {
    const reference = new Registry();
    const histogram = new Histogram({
      name: "h_seconds",
      help: "latency",
      labelNames: ["route", "status"],
      buckets: BUCKETS,
      registers: [reference],
    });
    const counter = new Counter({
      name: "h_total",
      help: "requests",
      labelNames: ["route", "status"],
      registers: [reference],
    });
    const hot = new HotHistogram({
      name: "h_seconds",
      help: "latency",
      labelNames: ["route", "status"],
      buckets: BUCKETS,
      seriesMax: 16,
      counter: { name: "h_total", help: "requests" },
    });
    const registry = new Registry();
    hot.register(registry);
    for (const [route, status, seconds] of OBSERVATIONS) {
      histogram.observe({ route, status }, seconds);
      counter.inc({ route, status });
      hot.observe(
        hot.series(`${route} ${status}`, () => ({ route, status })),
        seconds,
      );
    }
    expect(await registry.metrics()).toBe(await reference.metrics());
    // As JSON too, but for prom-client's exemplar slots, which this histogram does not keep.
    const withoutExemplars = (metrics: unknown): unknown =>
      JSON.parse(
        JSON.stringify(metrics, (key, value: unknown) => (key === "exemplar" ? undefined : value)),
      );
    expect(withoutExemplars(await registry.getMetricsAsJSON())).toEqual(
      withoutExemplars(await reference.getMetricsAsJSON()),
    );
  });

  it("drops, and counts, observations of label sets past seriesMax and values that are not finite", async () => {
    const hot = new HotHistogram({
      name: "x",
      help: "x",
      labelNames: ["k"],
      buckets: [1],
      seriesMax: 2,
    });
    const registry = new Registry();
    hot.register(registry);
    for (const k of ["a", "b", "c", "a"])
      hot.observe(
        hot.series(k, () => ({ k })),
        0.5,
      );
    hot.observe(
      hot.series("a", () => ({ k: "a" })),
      Number.NaN,
    );
    expect(hot.dropped).toBe(2);
    const text = await registry.metrics();
    expect(text).toContain('x_count{k="a"} 2');
    expect(text).toContain('x_count{k="b"} 1');
    expect(text).not.toContain('k="c"');
  });

  it("refuses buckets that do not ascend", () => {
    expect(
      () =>
        new HotHistogram({ name: "x", help: "x", labelNames: [], buckets: [1, 1], seriesMax: 1 }),
    ).toThrow(/ascend/);
  });
});
