// api/metrics-topology.ts — ring changes' series (issue 5): this node's range streams, the stream
// route others pull from, and the cleanup after a ring change.

import type { Registry } from "prom-client";
import { observedCounter, observedLabeledCounter } from "./metrics-observed.js";

/** Ring changes (issue 5): this node's range streams, the stream route, and cleanup. */
export interface TopologySources {
  readonly streams: {
    totals(): {
      readonly streamsDone: number;
      readonly streamsFailed: number;
      readonly streamsStalled: number;
      readonly keys: number;
      readonly bytes: number;
      readonly sourceChanges: number;
    };
  };
  readonly routes: {
    readonly recordsSent: number;
    readonly bytesSent: number;
    readonly recordsReceived: number;
    readonly bytesReceived: number;
  };
  readonly cleanup: {
    readonly runs: number;
    readonly rangesDeleted: number;
    readonly recordsDeleted: number;
  };
}

export function registerTopology(registry: Registry, sources: TopologySources): void {
  const { streams, routes, cleanup } = sources;
  observedLabeledCounter(
    registry,
    "streams_total",
    "Range streams this node ran for ring changes, by outcome",
    "outcome",
    () => {
      const totals = streams.totals();
      return { done: totals.streamsDone, failed: totals.streamsFailed };
    },
  );
  observedCounter(
    registry,
    "stream_stalls_total",
    'Range streams failed because their cursor did not move for the stall limit (also in streams_total{outcome="failed"})',
    () => streams.totals().streamsStalled,
  );
  observedCounter(
    registry,
    "stream_source_changes_total",
    "Times a range stream resumed from another replica after its source failed",
    () => streams.totals().sourceChanges,
  );
  observedLabeledCounter(
    registry,
    "stream_keys_total",
    "Records streamed: received by this node's streams, and served to others' by the stream route",
    "direction",
    () => ({
      streamed: streams.totals().keys,
      served: routes.recordsSent,
      pushed_in: routes.recordsReceived,
    }),
  );
  observedLabeledCounter(
    registry,
    "stream_bytes_total",
    "Bytes streamed, same directions as stream_keys_total",
    "direction",
    () => ({
      streamed: streams.totals().bytes,
      served: routes.bytesSent,
      pushed_in: routes.bytesReceived,
    }),
  );
  observedCounter(
    registry,
    "cleanup_runs_total",
    "Cleanups after a ring change (ranges this node no longer replicates deleted)",
    () => cleanup.runs,
  );
  observedCounter(
    registry,
    "cleanup_records_deleted_total",
    "Records deleted by cleanup",
    () => cleanup.recordsDeleted,
  );
}
