// replication/read-round.ts — one coordinated read in flight: data from one replica, digests from
// the rest, a fetch of the newest version when a digest outranks the data, failed replicas replaced
// by the next live one (coordinator.ts, "Reads").

import type { NodeId } from "../core/ids.js";
import { compareRecords, type StoredRecord } from "../storage/record.js";
import type { ReadOutcome } from "./coordinator-types.js";
import { compareDigests, digestOf, type VersionDigest } from "./replica-transport.js";
import { ReplicaState, type RoundHost } from "./round-host.js";

/** What a replica is asked for in a read: its record, or only its version. */
const ReadMode = { Data: 0, Digest: 1 } as const;
type ReadMode = (typeof ReadMode)[keyof typeof ReadMode];

/** One read: who was asked for what, the versions seen, the newest record in hand. */
export class ReadRound {
  /** Replicas asked, in order; parallel arrays hold how and in what state. */
  readonly #asked: NodeId[] = [];
  readonly #askedMode: ReadMode[] = [];
  readonly #askedState: ReplicaState[] = [];
  /** Replicas that answered, with the version each answered last. */
  readonly #answeredIds: NodeId[] = [];
  readonly #answeredVersions: (VersionDigest | null)[] = [];
  #nextCandidate = 0;
  #pending = 0;
  #failed = 0;
  #best: StoredRecord | undefined = undefined;
  #hasData = false;
  #settled = false;
  #cancelTimer: (() => void) | null = null;

  constructor(
    private readonly coordinator: RoundHost,
    private readonly key: string,
    private readonly required: number,
    private readonly candidates: readonly NodeId[],
    private readonly resolve: (outcome: ReadOutcome) => void,
    private readonly reject: (error: Error) => void,
    /** Candidates that are fallbacks (sloppy quorum): asked for their copies, data only. */
    private readonly fallbacks: ReadonlySet<NodeId> = NO_FALLBACKS,
    /** Answers that must be primaries' (`pr`); all of them when strict. */
    private readonly primaryRequired: number = required,
  ) {}

  /** Answers from primaries so far. */
  #primariesAnswered(): number {
    let count = 0;
    for (const replica of this.#answeredIds) if (!this.fallbacks.has(replica)) count++;
    return count;
  }

  start(): void {
    // Data from the first (the local replica when there is one), digests from the rest.
    this.askNext(ReadMode.Data);
    for (let count = 1; count < this.required; count++) this.askNext(ReadMode.Digest);
    this.#cancelTimer = this.coordinator.schedule(this);
  }

  expire(): void {
    this.#cancelTimer = null;
    if (this.#settled) return;
    for (let index = 0; index < this.#asked.length; index++) {
      if (this.#askedState[index] === ReplicaState.Pending) {
        this.#askedState[index] = ReplicaState.TimedOut;
        this.coordinator.countReplicaTimeout(this.#asked[index] as NodeId);
      }
    }
    this.settle(this.coordinator.timedOut(this.required, this.#answeredIds.length, this.#failed));
  }

  /** Asks the next candidate not asked yet; false when none is left. */
  private askNext(mode: ReadMode): boolean {
    const candidate = this.candidates[this.#nextCandidate];
    if (candidate === undefined) return false;
    this.#nextCandidate++;
    this.ask(candidate, mode);
    return true;
  }

  private ask(replica: NodeId, wanted: ReadMode): void {
    const index = this.#asked.length;
    const fallback = this.fallbacks.has(replica);
    // A fallback holds copies, not a replica's record: it has no digest to give.
    const mode = fallback ? ReadMode.Data : wanted;
    this.#asked.push(replica);
    this.#askedMode.push(mode);
    this.#askedState.push(ReplicaState.Pending);
    this.#pending++;
    const { deps, self } = this.coordinator;
    if (fallback) {
      const read =
        replica === self
          ? deps.fallbacks?.find(this.key)
          : deps.transport.readFallback?.(replica, this.key);
      (read ?? Promise.reject(new Error("no fallback reads"))).then(
        (record) => this.onData(index, record),
        () => this.onFailure(index),
      );
    } else if (mode === ReadMode.Data) {
      const read =
        replica === self ? deps.store.get(this.key) : deps.transport.readData(replica, this.key);
      read.then(
        (record) => this.onData(index, record),
        () => this.onFailure(index),
      );
    } else {
      deps.transport.readDigest(replica, this.key).then(
        (digest) => this.onDigest(index, digest),
        () => this.onFailure(index),
      );
    }
  }

  private onData(index: number, record: StoredRecord | undefined): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Acknowledged;
    this.#pending--;
    this.#hasData = true;
    if (
      record !== undefined &&
      (this.#best === undefined || compareRecords(record, this.#best) > 0)
    )
      this.#best = record;
    this.noteVersion(this.#asked[index] as NodeId, digestOf(record));
    this.evaluate();
  }

  private onDigest(index: number, digest: VersionDigest | null): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Acknowledged;
    this.#pending--;
    this.noteVersion(this.#asked[index] as NodeId, digest);
    this.evaluate();
  }

  private onFailure(index: number): void {
    if (this.#settled) return;
    this.#askedState[index] = ReplicaState.Failed;
    this.#pending--;
    this.#failed++;
    this.coordinator.countReplicaFailure(this.#asked[index] as NodeId);
    // A replica that failed is replaced by the next live one, in the same role.
    this.askNext(this.#askedMode[index] as ReadMode);
    this.evaluate();
  }

  private noteVersion(replica: NodeId, version: VersionDigest | null): void {
    const at = this.#answeredIds.indexOf(replica);
    if (at < 0) {
      this.#answeredIds.push(replica);
      this.#answeredVersions.push(version);
    } else if (compareDigests(version, this.#answeredVersions[at] ?? null) > 0) {
      // A replica fetched for data may have taken a newer write since its digest.
      this.#answeredVersions[at] = version;
    }
  }

  private newestVersion(): VersionDigest | null {
    let newest: VersionDigest | null = null;
    for (const version of this.#answeredVersions)
      if (compareDigests(version, newest) > 0) newest = version;
    return newest;
  }

  private evaluate(): void {
    if (this.#settled) return;
    const answered = this.#answeredIds.length;
    if (answered < this.required) {
      // Failed replicas were already replaced; wait while the level can still be reached.
      if (answered + this.#pending < this.required) {
        this.settle(this.coordinator.timedOut(this.required, answered, this.#failed));
      }
      return;
    }
    if (this.#primariesAnswered() < this.primaryRequired) {
      // Enough answers, too few of them primaries': ask on while some may come.
      if (this.#pending > 0 || this.askNext(ReadMode.Digest)) return;
      this.settle(this.coordinator.timedOut(this.required, answered, this.#failed));
      return;
    }
    const newest = this.newestVersion();
    const bestVersion = digestOf(this.#best);
    if (newest === null || (this.#hasData && compareDigests(bestVersion, newest) >= 0)) {
      this.succeed(newest);
      return;
    }
    // Some replica claimed a newer version than the data in hand: fetch it from those replicas.
    let fetching = false;
    for (let at = 0; at < answered; at++) {
      if (compareDigests(this.#answeredVersions[at] ?? null, bestVersion) <= 0) continue;
      const replica = this.#answeredIds[at] as NodeId;
      if (this.askedForData(replica)) {
        fetching ||= this.dataPendingFrom(replica);
        continue;
      }
      this.ask(replica, ReadMode.Data);
      fetching = true;
    }
    if (fetching || this.#pending > 0) return;
    // Every replica that claimed the newer version failed to hand it over: try one not asked yet.
    // Answering with an older version instead could hide an acknowledged write.
    if (this.askNext(ReadMode.Data)) return;
    this.settle(this.coordinator.timedOut(this.required, answered, this.#failed));
  }

  private askedForData(replica: NodeId): boolean {
    for (let index = 0; index < this.#asked.length; index++) {
      if (this.#asked[index] === replica && this.#askedMode[index] === ReadMode.Data) return true;
    }
    return false;
  }

  private dataPendingFrom(replica: NodeId): boolean {
    for (let index = 0; index < this.#asked.length; index++) {
      if (
        this.#asked[index] === replica &&
        this.#askedMode[index] === ReadMode.Data &&
        this.#askedState[index] === ReplicaState.Pending
      ) {
        return true;
      }
    }
    return false;
  }

  private succeed(newest: VersionDigest | null): void {
    let stale: NodeId[] | null = null;
    for (let at = 0; at < this.#answeredIds.length; at++) {
      // A fallback is no replica: read repair never writes to it.
      if (this.fallbacks.has(this.#answeredIds[at] as NodeId)) continue;
      if (compareDigests(this.#answeredVersions[at] ?? null, newest) < 0) {
        stale ??= [];
        stale.push(this.#answeredIds[at] as NodeId);
      }
    }
    const best = this.#best;
    if (best !== undefined) {
      const { hlc, wallUs } = this.coordinator.deps;
      // A version read back is a timestamp seen: later writes from here are ordered after it.
      hlc.observe(best.timestampUs, wallUs());
    }
    this.settle(null, {
      record: best,
      stale: stale ?? NO_REPLICAS,
      answered: this.#answeredIds.length,
    });
  }

  private settle(error: Error | null, outcome?: ReadOutcome): void {
    this.#settled = true;
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
    this.coordinator.finished();
    if (error !== null) this.reject(error);
    else this.resolve(outcome as ReadOutcome);
  }
}

const NO_FALLBACKS: ReadonlySet<NodeId> = new Set();

/** The `stale` of a read whose replicas agreed: shared, frozen, allocated once. */
const NO_REPLICAS: readonly NodeId[] = Object.freeze([]);
