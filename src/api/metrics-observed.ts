// api/metrics-observed.ts — the kinds of series the node's metrics are made of: counters whose
// value is read from a subsystem's own plain counter when Prometheus scrapes, so nothing on a hot
// path pays for metrics (the reason is in metrics.ts).

import { Counter, type Registry } from "prom-client";
import type { NodeId } from "../core/ids.js";

export const METRICS_PREFIX = "grapevine_";

/** A counter whose value is read from a monotonic source at scrape time. */
export function observedCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The same, split by one label. */
export function observedLabeledCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Record<string, number>,
): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of Object.entries(read())) this.inc({ [label]: value }, count);
    },
  });
}

/** Per-peer counts read at scrape time: one series per peer. */
export function observedPeerCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => ReadonlyMap<NodeId, number>,
): void {
  new Counter({
    name: METRICS_PREFIX + name,
    help,
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, count] of read()) this.inc({ peer }, count);
    },
  });
}
