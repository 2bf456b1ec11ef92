// api/metrics.ts — `GET /metrics` in Prometheus text (SPEC §3), from a registry of the node's own
// (never prom-client's global one, so two nodes in one process or a test do not share series).
//
// The membership core, the transports, the coordinator and the store keep plain counters; they are
// read when Prometheus scrapes, so nothing on the hot paths pays for metrics. Only what must be a
// distribution is observed as it happens: the client requests' latency (per route, consistency and
// status) and the operations per replica request (the batch sizes that show coalescing at work),
// through HotHistogram (hot-histogram.ts), which costs a map lookup per observation, not
// prom-client's label validation and hashing.

import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { answers } from "./answer-schemas.js";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { KvRequestObserver, KvRoute } from "./kv-routes.js";
import { HotHistogram } from "./hot-histogram.js";
import { registerClock, type ClockSources } from "./metrics-clock.js";
import { registerMembership, type MembershipSources } from "./metrics-membership.js";
import { METRICS_PREFIX } from "./metrics-observed.js";
import { registerRepair, type RepairSources } from "./metrics-repair.js";
import { registerDataPath, type DataPathSources } from "./metrics-replication.js";
import { registerTopology, type TopologySources } from "./metrics-topology.js";
import { registerTls, type TlsSources } from "./metrics-tls.js";

export interface MetricsSources extends MembershipSources {
  readonly dataPath?: DataPathSources;
  readonly repair?: RepairSources;
  readonly topology?: TopologySources;
  readonly clock?: ClockSources;
  /** With --certs-dir only. */
  readonly tls?: TlsSources;
}

/**
 * Client request latency buckets, seconds: 100 µs to 10 s, denser where a healthy store answers
 * (sub-millisecond to tens of milliseconds) so p50/p99 can be read off them.
 */
export const KV_LATENCY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Operations per replica request: powers of two up to the protocol's 256. */
export const REPLICA_BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * Distinct label sets of kv observations; beyond it (never, with bounded labels) they are dropped.
 */
const KV_LABEL_SETS_MAX = 1_024;

export class NodeMetrics implements KvRequestObserver {
  readonly registry = new Registry();
  readonly #kvRequests: HotHistogram;
  readonly #replicaBatchOps: HotHistogram;

  // Registration order is the order a scrape lists the series in; it is kept as it always was.
  constructor(sources: MetricsSources) {
    const { registry } = this;
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
    this.#kvRequests = kvRequestHistogram();
    this.#kvRequests.register(registry);
    this.#replicaBatchOps = replicaBatchHistogram();
    this.#replicaBatchOps.register(registry);
    if (sources.dataPath !== undefined) registerDataPath(registry, sources.dataPath);
    if (sources.clock !== undefined) registerClock(registry, sources.clock);
    if (sources.repair !== undefined) registerRepair(registry, sources.repair);
    if (sources.topology !== undefined) registerTopology(registry, sources.topology);
    registerMembership(registry, sources);
    if (sources.tls !== undefined) registerTls(registry, sources.tls);
  }

  observeKvRequest(route: KvRoute, consistency: string, status: number, seconds: number): void {
    const histogram = this.#kvRequests;
    const series = histogram.series(`${route} ${consistency} ${status}`, () => ({
      route,
      consistency,
      status: String(status),
    }));
    histogram.observe(series, seconds);
  }

  /** One replica request sent with `ops` operations (net/replica-client.ts onRequestSent). */
  observeReplicaRequest(ops: number): void {
    const histogram = this.#replicaBatchOps;
    histogram.observe(
      histogram.series("", () => ({})),
      ops,
    );
  }
}

function kvRequestHistogram(): HotHistogram {
  return new HotHistogram({
    name: `${METRICS_PREFIX}kv_request_duration_seconds`,
    help: "Latency of client requests to /kv, by route, consistency level and HTTP status",
    labelNames: ["route", "consistency", "status"],
    buckets: KV_LATENCY_BUCKETS_S,
    seriesMax: KV_LABEL_SETS_MAX,
    counter: {
      name: `${METRICS_PREFIX}kv_requests_total`,
      help: "Client requests to /kv, by route, consistency level and HTTP status",
    },
  });
}

function replicaBatchHistogram(): HotHistogram {
  return new HotHistogram({
    name: `${METRICS_PREFIX}replica_request_ops`,
    help: "Replica operations per node-to-node replica request (coalescing puts many in one)",
    labelNames: [],
    buckets: REPLICA_BATCH_BUCKETS,
    seriesMax: 1,
  });
}

export interface MetricsRoutesOptions {
  readonly metrics: NodeMetrics;
}

const METRICS_SCHEMA = {
  summary: "The node's metrics in Prometheus text",
  tags: ["observability"],
  response: answers({
    200: {
      description: "Prometheus text exposition format 0.0.4",
      content: { "text/plain": { schema: Type.String() } },
    },
  }),
};

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get("/metrics", { schema: METRICS_SCHEMA }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
