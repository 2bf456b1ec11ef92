// sim/run-invariants.ts — invariants of the nodes checked while a data-path simulation runs, not
// only by the judge at its end: a breach becomes a failed check that names the run's seed, the node
// and the virtual time, instead of a crash of the simulator or a quiet wrong state.
//
// Two sources, both cheap:
// - The nodes' own assertions of invariants they can check where they hold them. A node logs such
//   a breach at error level with an `invariant` field (topology/stream.ts: a page that does not
//   advance a range stream's cursor, `stream-cursor`); the nodes of a run log into `logger()`,
//   which keeps those lines and ignores every other one.
// - Watches the simulator runs itself, every simulated second and at the end of each phase: each
//   live node's hint store (storage/hints.ts) never counts more pending bytes for one target than
//   its limit (`hint-bytes`); at phase ends the hints actually stored are scanned too, and must be
//   within the limit and within what the store counts (`hint-storage`), since the bound is enforced
//   on the counts. The runs set the limit low (hintBytesPerTargetMax) so that it is reached.
// - Every batch a machine's disk takes, when the cluster offers them: no data record in it is
//   stamped further ahead of that machine's wall clock, when its node took the record, than its
//   --max-clock-offset-ms (`future-record`, future-record-watch.ts), which the history judge,
//   ordering versions by stamp, cannot see; and no node deletes a hint before its target holds the
//   version, unless the hint may go (`hint-delivery`, hint-delivery-watch.ts), which the final
//   repair would hide from the judge.

import type { NodeId } from "../core/ids.js";
import type { BuiltNodeCore } from "../node/build-node.js";
import { createLogger, type Logger } from "../node/logger.js";
import type { HintStore } from "../storage/hints.js";
import { sharedReplicasFor } from "../ring/placement.js";
import { tokenOf } from "../ring/partitioner.js";
import type { KeyedRecord } from "../storage/record.js";
import { firstFutureRecord, TakenClocks } from "./future-record-watch.js";
import { HintDeliveryWatch } from "./hint-delivery-watch.js";
import type { InvariantBreach } from "./history/types.js";
import type { DiskOperation } from "./sim-database.js";
import type { VirtualClock } from "./virtual-clock.js";

export const RUN_INVARIANT_LIMITS = {
  /** Virtual ms between two watches of the hint stores. */
  checkIntervalMs: 1_000,
  /**
   * The simulated nodes' pending hint bytes per target (the real default is 128 MiB): low enough
   * that a replica down for a few simulated seconds fills it, so runs reach the bound.
   */
  hintBytesPerTargetMax: 64 * 1024,
  /** Breaches kept per run: the first ones tell the story, and memory stays bounded. */
  breachesKeptMax: 100,
} as const;

/** The cluster as the watches see it (data-cluster.ts). */
export interface WatchedCluster {
  ids(): string[];
  /** The node of a machine that is up or paused; null while it is down. */
  node(id: string): BuiltNodeCore | null;
  /**
   * The machine's wall clock now, ms (with its offset); with watchDiskBatches, for `future-record`.
   */
  wallMsOf?(id: string): number;
  /** Calls `listener` with every batch a machine's disk takes. */
  watchDiskBatches?(listener: (id: string, operations: readonly DiskOperation[]) => void): void;
  /**
   * Calls `listener` with the writes each node hands its store, as it hands them; with
   * watchDiskBatches, for `future-record` (a record is judged by the wall clock when taken).
   */
  watchStoreApplies?(listener: (id: string, writes: readonly KeyedRecord[]) => void): void;
  /** The machine's disk, read at once; with watchDiskBatches and wallMsOf, for `hint-delivery`. */
  disk?(id: string): { latest(key: Buffer): Buffer | undefined };
}

/** What a node's error line carries that tells a breach from any other error. */
interface LoggedLine {
  readonly invariant?: unknown;
  readonly node?: unknown;
  readonly msg?: unknown;
}

export class RunInvariants {
  readonly #clock: VirtualClock;
  #cluster: WatchedCluster | null = null;
  /** Each node life's hint store, once its (already open) store handed it over. */
  readonly #hints = new WeakMap<BuiltNodeCore, HintStore>();
  readonly #breaches: InvariantBreach[] = [];
  #originMs: number;
  #watching = false;
  #hintDelivery: HintDeliveryWatch | null = null;
  readonly #taken = new TakenClocks();

  constructor(clock: VirtualClock) {
    this.#clock = clock;
    this.#originMs = clock.nowMs();
  }

  /** Breaches so far, each at virtual ms since the origin (the workload's start once begun). */
  breaches(): readonly InvariantBreach[] {
    return this.#breaches;
  }

  /** A logger for the run's nodes: keeps the error lines that report a broken invariant. */
  logger(): Logger {
    const destination = { write: (line: string): void => this.#onLogLine(line) };
    return createLogger({ level: "error", destination });
  }

  /**
   * Watches `cluster` every simulated second until stop(); times from now on count from `originMs`.
   */
  begin(cluster: WatchedCluster, originMs: number): void {
    this.#cluster = cluster;
    this.#originMs = originMs;
    this.#watching = true;
    this.#hintDelivery = this.#hintDeliveryWatch(cluster);
    cluster.watchStoreApplies?.((id, writes) => this.#onStoreApply(id, writes));
    cluster.watchDiskBatches?.((id, operations) => this.#onDiskBatch(id, operations));
    const watch = (): void => {
      if (!this.#watching) return;
      this.watchNow();
      this.#clock.schedule(RUN_INVARIANT_LIMITS.checkIntervalMs, watch);
    };
    watch();
  }

  stop(): void {
    this.#watching = false;
  }

  /** The cheap watch: each live node's counted hint bytes per target against its limit. */
  watchNow(): void {
    for (const id of this.#cluster?.ids() ?? []) {
      const hints = this.#hintsOf(id);
      if (hints === undefined) continue;
      const { bytesPerTargetMax } = hints.limits();
      for (const [target, pending] of hints.pending()) {
        if (pending.bytes <= bytesPerTargetMax) continue;
        this.#breach(
          "hint-bytes",
          id,
          `${id} counts ${pending.bytes} pending hint bytes for ${target}, over its limit of ${bytesPerTargetMax}`,
        );
      }
    }
  }

  /** The watch at a phase's end: also scans what each live node's hints hold on its disk. */
  async checkPhase(phase: string): Promise<void> {
    this.watchNow();
    const ids = this.#cluster?.ids() ?? [];
    const scans = ids.flatMap((id) => {
      const hints = this.#hintsOf(id);
      if (hints === undefined) return [];
      return ids.map((target) => this.#checkStored(phase, id, hints, target));
    });
    await Promise.all(scans);
  }

  async #checkStored(phase: string, id: string, hints: HintStore, target: NodeId): Promise<void> {
    // Counted before the scan opens its snapshot: a hint is counted before it is stored and
    // uncounted after it is deleted, so what the snapshot holds is within these counts.
    const counted = hints.pending().get(target) ?? { count: 0, bytes: 0 };
    const { bytesPerTargetMax } = hints.limits();
    let stored;
    try {
      stored = await hints.scan(target, counted.count + 1);
    } catch {
      return; // the node died during the scan: its next life rebuilds the counts from the disk
    }
    const bytes = stored.reduce((sum, hint) => sum + hint.bytes, 0);
    if (stored.length <= counted.count && bytes <= counted.bytes && bytes <= bytesPerTargetMax)
      return;
    const message =
      `at the end of ${phase}, ${id} stores ${stored.length > counted.count ? "at least " : ""}` +
      `${stored.length} hints (${bytes} bytes) for ${target}, but counts ${counted.count} ` +
      `(${counted.bytes} bytes) within a limit of ${bytesPerTargetMax}`;
    this.#breach("hint-storage", id, message);
  }

  #hintsOf(id: string): HintStore | undefined {
    const node = this.#cluster?.node(id) ?? null;
    if (node === null) return undefined;
    const hints = this.#hints.get(node);
    if (hints === undefined) {
      // The store opened its hints at start, so this resolves with that same store at once.
      node.store.openHints().then(
        (opened) => this.#hints.set(node, opened),
        () => undefined,
      );
    }
    return hints;
  }

  #onStoreApply(id: string, writes: readonly KeyedRecord[]): void {
    const wallMs = this.#cluster?.wallMsOf?.(id);
    if (!this.#watching || wallMs === undefined) return;
    this.#taken.took(id, writes, Math.floor(wallMs * 1000));
  }

  #onDiskBatch(id: string, operations: readonly DiskOperation[]): void {
    const node = this.#cluster?.node(id) ?? null;
    const wallMs = this.#cluster?.wallMsOf?.(id);
    if (!this.#watching || node === null || wallMs === undefined) return;
    const maxOffsetMs = node.config.maxClockOffsetMs;
    const future = firstFutureRecord(
      operations,
      Math.floor(wallMs * 1000),
      maxOffsetMs * 1000,
      this.#taken.landed(id),
    );
    for (const message of this.#hintDelivery?.onBatch(id, operations) ?? [])
      this.#breach("hint-delivery", id, message);
    if (future === null) return;
    const aheadMs = Math.round(future.aheadUs / 1000);
    const message = `${id} stored ${JSON.stringify(future.key)} stamped ${future.timestampUs}, ${aheadMs} ms ahead of its wall clock when it took it: past the allowed clock offset of ${maxOffsetMs} ms`;
    this.#breach("future-record", id, message);
  }

  #hintDeliveryWatch(cluster: WatchedCluster): HintDeliveryWatch | null {
    if (cluster.wallMsOf === undefined || cluster.disk === undefined) return null;
    return new HintDeliveryWatch({
      wallMsOf: (id) => cluster.wallMsOf?.(id) ?? 0,
      latest: (id, key) => cluster.disk?.(id).latest(key),
      limitsOf: (id) => {
        const config = cluster.node(id)?.config;
        return config === undefined
          ? null
          : { hintWindowMs: config.hintWindowS * 1000, maxClockOffsetMs: config.maxClockOffsetMs };
      },
      replicates: (id, target, key) => {
        const node = cluster.node(id);
        if (node === null) return false;
        return sharedReplicasFor(
          node.engine.ring(),
          tokenOf(key),
          node.config.replicationFactor,
        ).includes(target);
      },
    });
  }

  #onLogLine(line: string): void {
    let parsed: LoggedLine;
    try {
      parsed = JSON.parse(line) as LoggedLine;
    } catch {
      return;
    }
    if (typeof parsed.invariant !== "string") return;
    const node = typeof parsed.node === "string" ? parsed.node : "?";
    this.#breach(parsed.invariant, node, typeof parsed.msg === "string" ? parsed.msg : line.trim());
  }

  /** A breach the run found itself (a node's repair that left ranges out: repair-coverage.ts). */
  report(invariant: string, node: string, message: string): void {
    this.#breach(invariant, node, message);
  }

  #breach(invariant: string, node: string, message: string): void {
    if (this.#breaches.length >= RUN_INVARIANT_LIMITS.breachesKeptMax) return;
    const atMs = this.#clock.nowMs() - this.#originMs;
    this.#breaches.push({ invariant, node, atMs, message });
  }
}
