// node/housekeeping.ts — the node's periodic chores, run on the tick rather than on timers of their
// own: the clock guard's measurement, hinted handoff's window purge and replay check, the topology
// and anti-entropy services, every loadReportIntervalMs the store's load handed to the engine
// (gossiped when it changed), and every tombstonePurgeIntervalMs the tombstones past their grace
// period (10 days, storage/store.ts) purged, one purge at a time; and once a minute the requests
// the node refused, counted (refusal-tally.ts).

import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { CLUSTER_VIEW_DEFAULTS } from "../cluster/cluster-view.js";
import type { HintedHandoff } from "../replication/hinted-handoff.js";
import type { LevelStore } from "../storage/store.js";
import type { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { RingSettle } from "../cluster/ring-settle.js";
import type { ClockGuard } from "./clock-guard.js";
import type { CrashRecovery } from "./crash-recovery.js";
import type { Logger } from "./logger.js";
import { NODE_MAINTENANCE } from "./node-settings.js";
import type { NodeTopology } from "./node-topology.js";
import type { RefusalTally } from "./refusal-tally.js";

export interface HousekeepingDeps {
  readonly self: NodeId;
  readonly engine: ClusterEngine;
  readonly store: LevelStore;
  readonly clock: Clock;
  readonly wallUs: () => number;
  readonly clockGuard: ClockGuard;
  readonly handoff: Pick<HintedHandoff, "tick">;
  readonly antiEntropy: AntiEntropyService;
  readonly topology: NodeTopology | null;
  readonly log: Logger;
  readonly isStopping: () => boolean;
  readonly ringSettle: Pick<RingSettle, "settled">;
  readonly recovery: CrashRecovery;
  /** Refused requests, noted by the HTTP edge; reported here once a period. */
  readonly refusals: RefusalTally;
}

export class Housekeeping {
  #nextLoadReportMs = 0;
  #nextPurgeMs: number;
  #purging = false;

  constructor(private readonly deps: HousekeepingDeps) {
    this.#nextPurgeMs = deps.clock.nowMs() + NODE_MAINTENANCE.tombstonePurgeIntervalMs;
  }

  run(nowMs: number): void {
    const { engine, self, clockGuard, handoff, topology, antiEntropy, store } = this.deps;
    // The peers this node measures are its monitors: min(k, live peers).
    let livePeers = 0;
    for (const member of engine.members(nowMs))
      if (member.id !== self && member.live && member.status !== "left") livePeers++;
    clockGuard.tick(nowMs, Math.min(livePeers, CLUSTER_VIEW_DEFAULTS.monitorsPerMember));
    handoff.tick(nowMs);
    topology?.service.tick(nowMs);
    antiEntropy.tick(nowMs);
    this.deps.recovery.tick(nowMs, antiEntropy, this.deps.ringSettle.settled);
    if (nowMs >= this.#nextLoadReportMs) {
      this.#nextLoadReportMs = nowMs + NODE_MAINTENANCE.loadReportIntervalMs;
      const load = store.load();
      engine.setLoad({ keys: load.keys, bytes: load.bytes });
    }
    if (nowMs >= this.#nextPurgeMs && !this.#purging) {
      this.#nextPurgeMs = nowMs + NODE_MAINTENANCE.tombstonePurgeIntervalMs;
      this.#purgeTombstones();
    }
    this.#reportRefusals(nowMs);
  }

  /** Refused requests, counted: one line a period however many, none when there were none. */
  #reportRefusals(nowMs: number): void {
    const report = this.deps.refusals.report(nowMs);
    if (report === null) return;
    const { serverSide, ...counts } = report;
    if (serverSide) this.deps.log.warn(counts, "requests refused");
    else this.deps.log.info(counts, "requests refused");
  }

  #purgeTombstones(): void {
    const { store, wallUs, log, isStopping } = this.deps;
    this.#purging = true;
    store
      .purgeTombstones(wallUs())
      .then(
        (purged) => {
          if (purged > 0) log.info({ purged }, "tombstones purged");
        },
        (error: unknown) => {
          if (!isStopping()) log.warn({ err: error }, "tombstone purge failed");
        },
      )
      .finally(() => {
        this.#purging = false;
      });
  }
}
