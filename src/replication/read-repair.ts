// replication/read-repair.ts — a read that saw replicas disagree writes the newest version back to
// the stale ones before it answers; now and then a read also checks the replicas it did not need.
//
// Theory of operation (Dynamo §4.5's read repair; Cassandra's blocking read repair and its old
// read_repair_chance). The coordinator's read (coordinator.ts) answers with the newest version
// among the replicas that answered and lists those that answered an older one (`stale`).
// Foreground: this module writes the newest record to each stale replica and waits for them before
// the read answers, so once a quorum read returned a version, a quorum of replicas holds it and the
// next quorum read (which overlaps it) cannot return an older one: reads never go backwards. The
// wait is bounded by the request's deadline (--request-timeout-ms from the read's start): past it
// the read answers anyway and the repair writes go on; one that fails is reported through
// onRepairMiss (hinted handoff stores a hint for it). Background: with probability backgroundChance
// (a seeded Random), after answering, the read asks every live replica of the key for its digest
// and writes the record to those holding an older version. Background repairs in flight are
// bounded; past the bound a read skips its background check (counted). A read that found no version
// has nothing to write back.
//
// Repair writes are the record as read (timestamp and writer unchanged), so they are idempotent and
// lose to any newer write under last-write-wins: repairing never overwrites a newer version.
// A record stamped further ahead of this node's clock than the allowed offset (isFromTheFuture; one
// stored before issue 14's fix) is not written back: read repair would copy it to every replica,
// and from then on it would beat every later write of its key. It is skipped and counted per key.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { tokenOf as partitionerTokenOf, type Token } from "../ring/partitioner.js";
import { sharedReplicasFor } from "../ring/placement.js";
import { encodeRecord, type StoredRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import type { Coordinator, ReadOutcome, ReadRequest, ReplicaMiss } from "./coordinator.js";
import { compareDigests, digestOf, type ReplicaTransport } from "./replica-transport.js";

export const READ_REPAIR_DEFAULTS = {
  /** Cassandra's old read_repair_chance default: one read in ten checks every replica. */
  backgroundChance: 0.1,
  /** Background repairs at once; past it a read skips its background check rather than queue. */
  backgroundRepairsInFlightMax: 64,
} as const;

export interface ReadRepairOptions {
  readonly self: NodeId;
  readonly replicationFactor: number;
  /** The read's deadline, from its start (SPEC §1 --request-timeout-ms). */
  readonly requestTimeoutMs: number;
  /** The chance, in [0, 1], that a read also checks the replicas it did not need. */
  readonly backgroundChance?: number;
  readonly backgroundRepairsInFlightMax?: number;
}

export interface ReadRepairDeps {
  readonly coordinator: Pick<Coordinator, "read">;
  readonly cluster: Pick<ClusterEngine, "ring" | "isLive">;
  readonly store: Pick<Store, "apply" | "get">;
  readonly transport: ReplicaTransport;
  readonly clock: Clock;
  readonly random: Random;
  readonly tokenOf?: (key: string) => Token;
  /** A repair write that failed: the seam for a hint. */
  readonly onRepairMiss?: (miss: ReplicaMiss) => void;
  /** True for a timestamp too far ahead of this node's clock: such a record is not repaired. */
  readonly isFromTheFuture?: (timestampUs: number) => boolean;
  /** A repair skipped because the newest record is from the future. */
  readonly onFutureSkipped?: (key: string, record: StoredRecord) => void;
}

export interface ReadRepairStats {
  /** Reads that wrote back to stale replicas, by when. */
  readonly foreground: number;
  readonly background: number;
  /** Repair writes acknowledged: one replica's copy of one key made current. */
  readonly keysRepaired: number;
  readonly repairWritesFailed: number;
  readonly backgroundSkipped: number;
  /** Repairs not made because the newest record was from the future. */
  readonly futureSkipped: number;
}

export class ReadRepair {
  readonly #self: NodeId;
  readonly #replicationFactor: number;
  readonly #timeoutMs: number;
  readonly #chance: number;
  readonly #backgroundMax: number;
  readonly #deps: ReadRepairDeps;
  readonly #tokenOf: (key: string) => Token;
  #backgroundInFlight = 0;
  readonly #background = new Set<Promise<void>>();
  #foregroundCount = 0;
  #backgroundCount = 0;
  #keysRepaired = 0;
  #writesFailed = 0;
  #backgroundSkipped = 0;
  #futureSkipped = 0;

  constructor(options: ReadRepairOptions, deps: ReadRepairDeps) {
    this.#self = options.self;
    this.#replicationFactor = options.replicationFactor;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#chance = options.backgroundChance ?? READ_REPAIR_DEFAULTS.backgroundChance;
    this.#backgroundMax =
      options.backgroundRepairsInFlightMax ?? READ_REPAIR_DEFAULTS.backgroundRepairsInFlightMax;
    assert(this.#chance >= 0 && this.#chance <= 1, "backgroundChance is a probability");
    assert(
      Number.isSafeInteger(this.#backgroundMax) && this.#backgroundMax >= 0,
      "backgroundRepairsInFlightMax >= 0",
    );
    assert(
      Number.isSafeInteger(this.#timeoutMs) && this.#timeoutMs > 0,
      "requestTimeoutMs must be positive",
    );
    this.#deps = deps;
    this.#tokenOf = deps.tokenOf ?? partitionerTokenOf;
  }

  /** The coordinator's read, with stale replicas repaired before it resolves. */
  async read(request: ReadRequest): Promise<ReadOutcome> {
    const startedMs = this.#deps.clock.nowMs();
    const outcome = await this.#deps.coordinator.read(request);
    const record = outcome.record;
    if (record !== undefined && outcome.stale.length > 0) {
      this.#foregroundCount++;
      const writes = this.#repair(request.key, record, outcome.stale);
      await this.#untilDeadline(writes, startedMs + this.#timeoutMs);
    }
    // Drawn on every read, so a seeded run's choices do not depend on which reads disagreed.
    if (this.#deps.random.next() < this.#chance && record !== undefined)
      this.#startBackground(request.key, record);
    return outcome;
  }

  stats(): ReadRepairStats {
    return {
      foreground: this.#foregroundCount,
      background: this.#backgroundCount,
      keysRepaired: this.#keysRepaired,
      repairWritesFailed: this.#writesFailed,
      backgroundSkipped: this.#backgroundSkipped,
      futureSkipped: this.#futureSkipped,
    };
  }

  /** Resolves once background repairs running now settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.#background]);
  }

  /** Writes `record` to each replica; the promise settles when all did (never rejects). */
  #repair(key: string, record: StoredRecord, replicas: readonly NodeId[]): Promise<void> {
    if (this.#deps.isFromTheFuture?.(record.timestampUs) === true) {
      this.#futureSkipped++;
      this.#deps.onFutureSkipped?.(key, record);
      return Promise.resolve();
    }
    let encoded: Uint8Array | null = null;
    const writes = replicas.map((replica) => {
      const write =
        replica === this.#self
          ? this.#deps.store.apply([{ key, record }]).then(() => undefined)
          : this.#deps.transport.write(replica, key, (encoded ??= encodeRecord(record)));
      return write.then(
        () => {
          this.#keysRepaired++;
        },
        () => {
          this.#writesFailed++;
          if (replica !== this.#self)
            this.#deps.onRepairMiss?.({ key, record, missed: [{ replica, reason: "failed" }] });
        },
      );
    });
    return Promise.all(writes).then(() => undefined);
  }

  #untilDeadline(work: Promise<void>, deadlineMs: number): Promise<void> {
    const remainingMs = deadlineMs - this.#deps.clock.nowMs();
    if (remainingMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cancel = this.#deps.clock.schedule(remainingMs, resolve);
      void work.then(() => {
        cancel();
        resolve();
      });
    });
  }

  #startBackground(key: string, record: StoredRecord): void {
    if (this.#backgroundInFlight >= this.#backgroundMax) {
      this.#backgroundSkipped++;
      return;
    }
    this.#backgroundInFlight++;
    const run = this.#checkReplicas(key, record)
      .catch(() => undefined)
      .finally(() => {
        this.#backgroundInFlight--;
        this.#background.delete(run);
      });
    this.#background.add(run);
  }

  async #checkReplicas(key: string, record: StoredRecord): Promise<void> {
    const { cluster, store, transport } = this.#deps;
    const replicas = sharedReplicasFor(cluster.ring(), this.#tokenOf(key), this.#replicationFactor);
    const newest = digestOf(record);
    const stale: NodeId[] = [];
    await Promise.all(
      replicas.map(async (replica) => {
        if (replica !== this.#self && !cluster.isLive(replica)) return;
        try {
          const version =
            replica === this.#self
              ? digestOf(await store.get(key))
              : await transport.readDigest(replica, key);
          if (compareDigests(version, newest) < 0) stale.push(replica);
        } catch {
          // An unreachable replica is the detector's and hinted handoff's business, not ours.
        }
      }),
    );
    if (stale.length === 0) return;
    this.#backgroundCount++;
    await this.#repair(key, record, stale);
  }
}
