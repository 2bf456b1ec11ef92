// metrics.js — what the console reads from the node's own `/metrics` (Prometheus text): request
// rates and p50/p99 latency per operation, computed from the difference of two scrapes of the
// latency histogram, and hint counters. Pure functions of the texts and times they are given.

const PREFIX = "grapevine_";
export const KV_ROUTES = ["get", "put", "delete"];

/**
 * @typedef {{ labels: Record<string, string>, value: number }} Sample
 * @typedef {Map<string, Sample[]>} Scrape  metric name → its samples
 */

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** @param {string} text @returns {Scrape} */
export function parsePrometheus(text) {
  /** @type {Scrape} */
  const scrape = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    /** @type {Record<string, string>} */
    const labels = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(LABEL)) labels[name] = value;
    const samples = scrape.get(match[1]) ?? [];
    samples.push({ labels, value: Number(match[3]) });
    scrape.set(match[1], samples);
  }
  return scrape;
}

/** @param {Scrape} scrape @param {string} name @param {(labels: Record<string, string>) => boolean} [where] */
export function sum(scrape, name, where = () => true) {
  let total = 0;
  for (const sample of scrape.get(PREFIX + name) ?? [])
    if (where(sample.labels)) total += sample.value;
  return total;
}

/** @param {Scrape} scrape @param {string} name @param {string} label @returns {Map<string, number>} */
export function byLabel(scrape, name, label) {
  const values = new Map();
  for (const sample of scrape.get(PREFIX + name) ?? []) {
    const key = sample.labels[label] ?? "";
    values.set(key, (values.get(key) ?? 0) + sample.value);
  }
  return values;
}

/**
 * One route's cumulative latency histogram, summed over consistency levels and statuses.
 * @param {Scrape} scrape @param {string} route
 * @returns {{ count: number, buckets: { le: number, count: number }[] }}
 */
function routeHistogram(scrape, route) {
  const byBound = new Map();
  for (const sample of scrape.get(`${PREFIX}kv_request_duration_seconds_bucket`) ?? []) {
    if (sample.labels.route !== route) continue;
    const le = sample.labels.le === "+Inf" ? Infinity : Number(sample.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + sample.value);
  }
  const buckets = [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return { count: buckets.at(-1)?.count ?? 0, buckets };
}

/**
 * The latency below which a fraction q of the window's requests answered, interpolated inside its
 * bucket as Prometheus' histogram_quantile does; null for an empty window.
 * @param {{ le: number, count: number }[]} buckets  cumulative counts within the window
 * @param {number} q
 */
export function quantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    lower = le;
    below = count;
  }
  return lower;
}

/**
 * Requests per second and p50/p99 (ms) per route between two scrapes `seconds` apart.
 * @param {Scrape} before @param {Scrape} after @param {number} seconds
 * @returns {Record<string, { rate: number, p50: number | null, p99: number | null }>}
 */
export function kvWindow(before, after, seconds) {
  /** @type {Record<string, { rate: number, p50: number | null, p99: number | null }>} */
  const window = {};
  for (const route of KV_ROUTES) {
    const from = routeHistogram(before, route);
    const to = routeHistogram(after, route);
    const earlier = new Map(from.buckets.map((bucket) => [bucket.le, bucket.count]));
    // A restarted node's counters start again from zero: the window is then the new counts.
    const reset = to.count < from.count;
    const buckets = to.buckets.map(({ le, count }) => ({
      le,
      count: reset ? count : count - (earlier.get(le) ?? 0),
    }));
    const count = buckets.at(-1)?.count ?? 0;
    const ms = (/** @type {number | null} */ s) => (s === null ? null : s * 1000);
    window[route] = {
      rate: seconds > 0 ? count / seconds : 0,
      p50: ms(quantile(buckets, 0.5)),
      p99: ms(quantile(buckets, 0.99)),
    };
  }
  return window;
}
