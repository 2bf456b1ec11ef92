// api/metrics-repair.ts — Merkle anti-entropy's series (issue 4): this node's repair sessions and
// the repair route other replicas call, summed per direction.

import { Gauge, type Registry } from "prom-client";
import type { AntiEntropyStats } from "../antientropy/anti-entropy-service.js";
import type { RepairRouteStats } from "../net/repair-routes.js";
import { METRICS_PREFIX, observedCounter, observedLabeledCounter } from "./metrics-observed.js";

/**
 * Merkle anti-entropy (issue 4): this node's sessions, and the repair route other replicas call.
 */
export interface RepairSources {
  readonly service: { stats(): AntiEntropyStats };
  readonly routes: RepairRouteStats;
}

export function registerRepair(registry: Registry, sources: RepairSources): void {
  registerRepairSessions(registry, sources.service);
  registerRepairTraffic(registry, sources);
}

/** The sessions this node started: how many, how many failed, how many run now. */
function registerRepairSessions(registry: Registry, service: RepairSources["service"]): void {
  observedLabeledCounter(
    registry,
    "repair_sessions_total",
    "Repair sessions this node started, by trigger",
    "trigger",
    () => {
      const stats = service.stats();
      return {
        background: stats.sessionsStarted.background,
        operator: stats.sessionsStarted.operator,
      };
    },
  );
  observedCounter(
    registry,
    "repair_sessions_failed_total",
    "Repair sessions that failed (peer unreachable, refused, stopping)",
    () => service.stats().sessionsFailed,
  );
  new Gauge({
    name: `${METRICS_PREFIX}repair_sessions_running`,
    help: "Repair sessions running now",
    registers: [registry],
    collect() {
      this.set(service.stats().sessionsRunning);
    },
  });
}

/** What the sessions and the route moved: ranges compared, records and bytes, refusals. */
function registerRepairTraffic(registry: Registry, sources: RepairSources): void {
  const { service, routes } = sources;
  observedLabeledCounter(
    registry,
    "repair_ranges_total",
    "Ranges compared by this node's repair sessions, and those that differed",
    "outcome",
    () => {
      const totals = service.stats().totals;
      return { compared: totals.rangesCompared, differing: totals.rangesDiffering };
    },
  );
  observedLabeledCounter(
    registry,
    "repair_keys_total",
    "Records streamed by repair, by direction (this node's sessions and the route)",
    "direction",
    () => {
      const totals = service.stats().totals;
      return {
        sent: totals.keysSent + routes.recordsSent,
        received: totals.keysReceived + routes.recordsReceived,
      };
    },
  );
  observedLabeledCounter(
    registry,
    "repair_bytes_total",
    "Repair message body bytes, by direction (this node's sessions and the route)",
    "direction",
    () => {
      const totals = service.stats().totals;
      return {
        sent: totals.bytesSent + routes.bytesSent,
        received: totals.bytesReceived + routes.bytesReceived,
      };
    },
  );
  observedLabeledCounter(
    registry,
    "repair_requests_refused_total",
    "Repair requests refused, by reason",
    "reason",
    () => ({
      malformed: routes.refusedMalformed,
      unauthorized: routes.refusedUnauthorized,
    }),
  );
}
