// api/hot-histogram.ts — a labelled Prometheus histogram (and the request count beside it) for a
// hot path: an observation is a map lookup and a few additions; prom-client only formats it at
// scrape.
//
// Why not prom-client's Histogram: its observe() converts, re-validates and re-hashes the label set
// on every call, even through a cached child from labels(). On the client request path that was
// ~6 µs per request, a tenth of a single-node PUT's CPU. Here a label set is resolved once to a
// Series (a Float64Array of bucket counts), and the exposition at scrape time is what prom-client's
// own histogram prints (`_bucket` with `le` first, cumulative; `_sum`; `_count`), through the same
// registry.

import { Counter, type Metric, type Registry } from "prom-client";
import { assert } from "../core/assert.js";

/** One label set's counts: per bucket (not cumulative), then the +Inf bucket; sum; count. */
export interface HotSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export interface HotHistogramOptions {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending. */
  readonly buckets: readonly number[];
  /** The label names every series has (in this order in the exposition, after `le`). */
  readonly labelNames: readonly string[];
  /**
   * Label sets kept; past it observations of new sets are dropped (and counted). Labels must be
   * bounded.
   */
  readonly seriesMax: number;
  /** Also export the observation count as this counter (same labels), e.g. requests_total. */
  readonly counter?: { readonly name: string; readonly help: string };
}

interface MetricValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

export class HotHistogram {
  readonly #options: HotHistogramOptions;
  readonly #series = new Map<string, HotSeries>();
  /** Observations of label sets beyond seriesMax. */
  dropped = 0;

  constructor(options: HotHistogramOptions) {
    assert(options.buckets.length > 0, "a histogram has at least one bucket");
    for (let index = 1; index < options.buckets.length; index++) {
      assert(
        (options.buckets[index] as number) > (options.buckets[index - 1] as number),
        "histogram buckets ascend",
      );
    }
    assert(
      Number.isSafeInteger(options.seriesMax) && options.seriesMax >= 1,
      "seriesMax is a positive integer",
    );
    this.#options = options;
  }

  /**
   * The series of a label set, by a key the caller builds from the same values (cheaper than
   * hashing an object); created on first use. Null once seriesMax sets exist.
   */
  series(key: string, labels: () => Record<string, string>): HotSeries | null {
    const existing = this.#series.get(key);
    if (existing !== undefined) return existing;
    if (this.#series.size >= this.#options.seriesMax) return null;
    const created: HotSeries = {
      labels: labels(),
      buckets: new Float64Array(this.#options.buckets.length + 1),
      sum: 0,
      count: 0,
    };
    this.#series.set(key, created);
    return created;
  }

  observe(series: HotSeries | null, value: number): void {
    if (series === null || !Number.isFinite(value)) {
      this.dropped++;
      return;
    }
    const bounds = this.#options.buckets;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    series.buckets[bucket] = (series.buckets[bucket] ?? 0) + 1;
    series.sum += value;
    series.count += 1;
  }

  /** Registers the histogram (and its counter) with a registry. */
  register(registry: Registry): void {
    const { name, help, counter } = this.#options;
    const values = (): MetricValue[] => this.#values();
    // prom-client's registry reads a metric through get() and reset(): the shape of its own
    // classes, which this satisfies without being one.
    const metric = {
      name,
      help,
      type: "histogram",
      aggregator: "sum",
      get: async () => ({ name, help, type: "histogram", aggregator: "sum", values: values() }),
      reset: () => this.#series.clear(),
    };
    registry.registerMetric(metric as unknown as Metric);
    if (counter !== undefined) {
      const all = this.#series;
      new Counter({
        name: counter.name,
        help: counter.help,
        labelNames: this.#options.labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const series of all.values()) this.inc(series.labels, series.count);
        },
      });
    }
  }

  #values(): MetricValue[] {
    const { name, buckets } = this.#options;
    const values: MetricValue[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let index = 0; index <= buckets.length; index++) {
        cumulative += series.buckets[index] ?? 0;
        const le = index < buckets.length ? (buckets[index] as number) : "+Inf";
        values.push({
          labels: { le, ...series.labels },
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      }
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${name}_sum` });
      values.push({
        labels: { ...series.labels },
        value: series.count,
        metricName: `${name}_count`,
      });
    }
    return values;
  }
}
