// api/metrics-storage.ts — the store's series: its load (keys, tombstones, bytes) and queue as
// gauges, and its write lane, row cache and purges as counters.

import { Gauge, type Registry } from "prom-client";
import type { StoreCounters, StoreLoad } from "../storage/store.js";
import { METRICS_PREFIX, observedCounter } from "./metrics-observed.js";

export interface StoreSources {
  load(): StoreLoad;
  counters(): StoreCounters;
  /** True while the node repairs after a possible loss of writes (node/crash-recovery.ts). */
  recovering?(): boolean;
}

export function registerStorage(registry: Registry, store: StoreSources): void {
  registerStorageGauges(registry, store);
  registerStorageCounters(registry, store);
}

function registerStorageGauges(registry: Registry, store: StoreSources): void {
  new Gauge({
    name: `${METRICS_PREFIX}storage_keys`,
    help: "Live keys (not tombstones) in this node's LevelDB",
    registers: [registry],
    collect() {
      this.set(store.load().keys);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_tombstones`,
    help: "Tombstones kept in this node's LevelDB until their grace period ends",
    registers: [registry],
    collect() {
      this.set(store.load().tombstones);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_bytes`,
    help: "Bytes of data records (keys and encoded records, before compression) in this node's LevelDB",
    registers: [registry],
    collect() {
      this.set(store.load().bytes);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_recovering`,
    help: "1 while this node may have lost acknowledged writes (a power loss with --sync off) and repairs its ranges before it answers reads as a replica",
    registers: [registry],
    collect() {
      this.set(store.recovering?.() === true ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_queued_writes`,
    help: "Writes waiting for the store's next batch",
    registers: [registry],
    collect() {
      this.set(store.counters().queuedWrites);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}storage_row_cache_bytes`,
    help: "Bytes of stored records the store keeps in memory (its row cache), entry overhead included",
    registers: [registry],
    collect() {
      this.set(store.counters().rowCache.bytes);
    },
  });
}

function registerStorageCounters(registry: Registry, store: StoreSources): void {
  observedCounter(
    registry,
    "storage_row_cache_hits_total",
    "Store reads (client reads and a write's read of the stored version) answered from the row cache",
    () => store.counters().rowCache.hits,
  );
  observedCounter(
    registry,
    "storage_row_cache_misses_total",
    "Store reads that went to LevelDB",
    () => store.counters().rowCache.misses,
  );
  observedCounter(
    registry,
    "storage_row_cache_evictions_total",
    "Records dropped from the row cache to stay within its size",
    () => store.counters().rowCache.evictions,
  );
  observedCounter(
    registry,
    "storage_batches_total",
    "LevelDB batches committed by the store",
    () => store.counters().batchesCommitted,
  );
  observedCounter(
    registry,
    "storage_writes_applied_total",
    "Writes that became the stored version",
    () => store.counters().writesApplied,
  );
  observedCounter(
    registry,
    "storage_writes_superseded_total",
    "Writes that lost last-write-wins to a stored or batched version",
    () => store.counters().writesSuperseded,
  );
  observedCounter(
    registry,
    "storage_overload_refusals_total",
    "Writes refused because the store's queue was full",
    () => store.counters().overloadRefusals,
  );
  observedCounter(
    registry,
    "storage_tombstones_purged_total",
    "Tombstones purged after their grace period",
    () => store.counters().tombstonesPurged,
  );
}
