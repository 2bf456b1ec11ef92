// antientropy/anti-entropy-service.ts — the background repair loop and the repairs an operator asks
// for.
//
// Theory of operation. The ranges this node replicates and their other replicas come from the ring
// (ring/placement.ts rangesReplicatedOn), read afresh for every repair: segments are fixed token
// slices (storage/segments.ts) and trees are built from them per exchange, so when the ring changes
// (a tokens-changed event) there is nothing to rebuild; the service only restarts its round-robin.
//
// Background (SPEC §1 --anti-entropy-interval-s): every interval, one (range, other replica) pair,
// taken in turn from the list of every range and each of its other replicas, is repaired; a pair
// whose replica is down is passed over for the next one (hints and the next turn cover it). Riak's
// active anti-entropy and Cassandra's incremental repair pace themselves the same way: a little,
// often, rather than a whole-node repair that competes with clients.
//
// An operator's repair (`grapevine repair`, POST /admin/repair) covers every range the node
// replicates against every other replica of it: one session per peer over all the ranges they
// share, so an in-sync peer costs one round trip per chunk of ranges. It runs as a job with an id;
// its progress and summary are kept for the last jobsKeptMax jobs.
//
// Throttling, so that client latency holds: at most sessionsMax sessions run at once (background
// and operator alike; more wait their turn), and all sessions share one byte budget of
// bytesPerSecondMax: after each round trip a session waits until the bytes it moved fit the budget
// (a token bucket with one second of burst). Bytes do not bound CPU, though: on a small machine a
// repair's scans, hashing and applies compete with client requests for the same cores. So a session
// also keeps a duty cycle: after a round trip that took t ms, it rests t × (1 − busyFractionMax) /
// busyFractionMax ms before the next one, so it is busy at most that fraction of the time.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { tokenToString } from "../ring/partitioner.js";
import { rangesReplicatedOn } from "../ring/placement.js";
import type { TokenMap } from "../ring/token-map.js";
import type { RangeBounds } from "./hash-tree.js";
import { TreeCache } from "./range-trees.js";
import { NODE_HASH_WINDOWS } from "./tree-diff.js";
import {
  addSummary,
  emptySummary,
  RepairSession,
  type RepairTransport,
  type SessionDeps,
  type SessionSummary,
} from "./repair-session.js";

export const ANTI_ENTROPY_DEFAULTS = {
  /**
   * Sessions at once, background and operator together: one keeps repair to about one core's slice.
   */
  sessionsMax: 1,
  /** Bytes a second all sessions together may move: 8 MiB/s is a tenth of a gigabit link. */
  bytesPerSecondMax: 8 * 1024 * 1024,
  /** Share of wall time a session may spend in round trips (its own work, the peer's, the wire). */
  busyFractionMax: 0.5,
  /** Operator jobs whose progress and summary stay readable. */
  jobsKeptMax: 64,
  /**
   * Sessions waiting for a slot; past it an operator repair is refused and a background turn
   * skipped.
   */
  sessionsQueuedMax: 64,
} as const;

export interface AntiEntropyOptions {
  readonly self: NodeId;
  readonly replicationFactor: number;
  /** null: no background repair. */
  readonly intervalMs: number | null;
  readonly sessionsMax?: number;
  readonly bytesPerSecondMax?: number;
  readonly busyFractionMax?: number;
}

export interface AntiEntropyLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface AntiEntropyDeps {
  readonly store: SessionDeps["store"];
  readonly transport: RepairTransport;
  readonly clock: Clock;
  ring(): TokenMap;
  isLive(id: NodeId): boolean;
  readonly log: AntiEntropyLog;
  /** A fresh job id (random in a node; counted in tests). */
  newJobId(): string;
}

export type JobState = "running" | "done" | "failed";

/** What an operator's repair covers: every range this node replicates, or the one named. */
export interface RepairRequest {
  readonly dryRun: boolean;
  /** One range of the ring this node replicates, as the ring names it; absent: all of them. */
  readonly range?: RangeBounds;
}

export interface RepairJobView {
  readonly id: string;
  readonly state: JobState;
  readonly dryRun: boolean;
  /** The one range repaired; null: every range this node replicates. */
  readonly range: RangeBounds | null;
  /** (range, peer) comparisons to make, and made so far. */
  readonly rangesTotal: number;
  readonly peersTotal: number;
  readonly peersDone: number;
  readonly summary: SessionSummary;
  readonly seconds: number;
  /** Peers whose session failed, with why. */
  readonly failures: readonly { peer: NodeId; message: string }[];
}

/** Counters for the metrics (api/metrics.ts). */
export interface AntiEntropyStats {
  readonly sessionsStarted: { background: number; operator: number };
  readonly sessionsFailed: number;
  readonly sessionsRunning: number;
  readonly totals: Readonly<SessionSummary>;
}

interface Job {
  readonly id: string;
  state: JobState;
  readonly dryRun: boolean;
  readonly range: RangeBounds | null;
  rangesTotal: number;
  peersTotal: number;
  peersDone: number;
  readonly summary: SessionSummary;
  readonly startedMs: number;
  endedMs: number | null;
  readonly failures: { peer: NodeId; message: string }[];
}

export class AntiEntropyService {
  private readonly sessionsMax: number;
  private readonly bytesPerSecondMax: number;
  private readonly busyFractionMax: number;
  private running = 0;
  private waiting: (() => void)[] = [];
  /** Token bucket: bytes available now (may go negative: the next round trip waits it off). */
  private budgetBytes: number;
  private budgetAtMs: number;
  private turn = 0;
  private nextDueMs: number;
  private backgroundBusy = false;
  private closed = false;
  private readonly jobs = new Map<string, Job>();
  private readonly totals = emptySummary();
  private readonly started = { background: 0, operator: 0 };
  private failed = 0;
  /**
   * Names sessions to peers (with this node's id and a restart-unique start: see the constructor).
   */
  private sessionSequence: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  /**
   * This node's trees, shared by its sessions: an operator's repair asks each peer about the same
   * ranges.
   */
  private readonly trees = new TreeCache();

  constructor(
    private readonly options: AntiEntropyOptions,
    private readonly deps: AntiEntropyDeps,
  ) {
    this.sessionsMax = options.sessionsMax ?? ANTI_ENTROPY_DEFAULTS.sessionsMax;
    this.bytesPerSecondMax = options.bytesPerSecondMax ?? ANTI_ENTROPY_DEFAULTS.bytesPerSecondMax;
    assert(
      Number.isSafeInteger(this.sessionsMax) && this.sessionsMax >= 1,
      "sessionsMax must be a positive integer",
    );
    assert(this.bytesPerSecondMax > 0, "bytesPerSecondMax must be positive");
    this.busyFractionMax = options.busyFractionMax ?? ANTI_ENTROPY_DEFAULTS.busyFractionMax;
    assert(
      this.busyFractionMax > 0 && this.busyFractionMax <= 1,
      "busyFractionMax must be in (0, 1]",
    );
    this.budgetBytes = this.bytesPerSecondMax;
    // Session names must not repeat across restarts while a peer may still remember the old ones.
    this.sessionSequence = deps.clock.nowMs() > 0 ? Math.floor(deps.clock.nowMs()) * 1000 : 0;
    this.budgetAtMs = deps.clock.nowMs();
    this.nextDueMs =
      options.intervalMs === null
        ? Number.POSITIVE_INFINITY
        : deps.clock.nowMs() + options.intervalMs;
  }

  /**
   * Every (range, other replica) pair this node has, in ring order: the background's round-robin
   * list.
   */
  pairs(): { range: RangeBounds; peer: NodeId }[] {
    const out: { range: RangeBounds; peer: NodeId }[] = [];
    for (const range of rangesReplicatedOn(
      this.deps.ring(),
      this.options.self,
      this.options.replicationFactor,
    )) {
      for (const peer of range.replicas) {
        if (peer !== this.options.self)
          out.push({ range: { start: range.start, end: range.end }, peer });
      }
    }
    return out;
  }

  /**
   * The ring changed: the round-robin starts over on the new list (trees need nothing: see above).
   */
  onTokensChanged(): void {
    this.turn = 0;
  }

  /** Called on the node's tick: starts the background turn when it is due. */
  tick(nowMs: number): void {
    if (this.closed || nowMs < this.nextDueMs || this.backgroundBusy) return;
    this.nextDueMs = nowMs + (this.options.intervalMs ?? Number.POSITIVE_INFINITY);
    const pairs = this.pairs();
    if (pairs.length === 0) return;
    // The next pair whose replica is up, in turn.
    let chosen: { range: RangeBounds; peer: NodeId } | undefined;
    for (let step = 0; step < pairs.length; step++) {
      const candidate = pairs[(this.turn + step) % pairs.length] as {
        range: RangeBounds;
        peer: NodeId;
      };
      if (this.deps.isLive(candidate.peer)) {
        chosen = candidate;
        this.turn = (this.turn + step + 1) % pairs.length;
        break;
      }
    }
    if (chosen === undefined) return;
    if (this.waiting.length >= ANTI_ENTROPY_DEFAULTS.sessionsQueuedMax) return;
    this.backgroundBusy = true;
    this.started.background += 1;
    const { range, peer } = chosen;
    this.track(
      this.runSession(peer, [range], false)
        .then((summary) => {
          if (summary.rangesDiffering > 0) {
            this.deps.log.info(
              { peer, keysSent: summary.keysSent, keysReceived: summary.keysReceived },
              "background repair moved records",
            );
          }
        })
        .catch((error: unknown) => {
          this.failed += 1;
          if (!this.closed)
            this.deps.log.warn(
              { peer, err: error instanceof Error ? error.message : String(error) },
              "background repair failed",
            );
        })
        .finally(() => {
          this.backgroundBusy = false;
        }),
    );
  }

  /**
   * Starts an operator's repair of every range (or the one named) against every other replica;
   * returns its job id. Too many sessions waiting: 503 `unavailable` (a GrapevineError), and
   * nothing starts; a range this node has no other replica of to compare with: 400 `bad_request`.
   */
  startRepair(request: RepairRequest): string {
    assert(!this.closed, "the service is closed");
    if (this.waiting.length >= ANTI_ENTROPY_DEFAULTS.sessionsQueuedMax)
      throw new GrapevineError("unavailable", "too many repair sessions are waiting");
    const wanted = request.range;
    const pairs = this.pairs().filter(
      ({ range }) =>
        wanted === undefined || (range.start === wanted.start && range.end === wanted.end),
    );
    if (wanted !== undefined && pairs.length === 0)
      throw new GrapevineError(
        "bad_request",
        `this node replicates no range ${rangeText(wanted)} with another replica to compare ` +
          "with; GET /cluster/ring lists the ranges and their replicas",
      );
    const byPeer = new Map<NodeId, RangeBounds[]>();
    for (const { range, peer } of pairs) {
      const list = byPeer.get(peer) ?? [];
      list.push(range);
      byPeer.set(peer, list);
    }
    const job: Job = {
      id: this.deps.newJobId(),
      state: "running",
      dryRun: request.dryRun,
      range: wanted ?? null,
      rangesTotal: [...byPeer.values()].reduce((sum, list) => sum + list.length, 0),
      peersTotal: byPeer.size,
      peersDone: 0,
      summary: emptySummary(),
      startedMs: this.deps.clock.nowMs(),
      endedMs: null,
      failures: [],
    };
    this.jobs.set(job.id, job);
    while (this.jobs.size > ANTI_ENTROPY_DEFAULTS.jobsKeptMax) {
      const oldest = [...this.jobs.values()].find((candidate) => candidate.state !== "running");
      if (oldest === undefined) break;
      this.jobs.delete(oldest.id);
    }
    this.started.operator += byPeer.size;
    this.track(this.runJob(job, byPeer));
    return job.id;
  }

  job(id: string): RepairJobView | undefined {
    const job = this.jobs.get(id);
    if (job === undefined) return undefined;
    const endMs = job.endedMs ?? this.deps.clock.nowMs();
    return {
      id: job.id,
      state: job.state,
      dryRun: job.dryRun,
      range: job.range,
      rangesTotal: job.rangesTotal,
      peersTotal: job.peersTotal,
      peersDone: job.peersDone,
      summary: { ...job.summary },
      seconds: (endMs - job.startedMs) / 1000,
      failures: [...job.failures],
    };
  }

  stats(): AntiEntropyStats {
    return {
      sessionsStarted: { ...this.started },
      sessionsFailed: this.failed,
      sessionsRunning: this.running,
      totals: { ...this.totals },
    };
  }

  /**
   * Stops starting sessions and waits for the running ones to end (they fail fast once the
   * transport closes).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.allSettled([...this.inFlight]);
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async runJob(job: Job, byPeer: Map<NodeId, RangeBounds[]>): Promise<void> {
    for (const [peer, ranges] of byPeer) {
      if (this.closed) {
        job.failures.push({ peer, message: "the node is stopping" });
        continue;
      }
      const session = this.runSession(peer, ranges, job.dryRun, job.summary);
      try {
        await session;
      } catch (error) {
        this.failed += 1;
        job.failures.push({
          peer,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      job.peersDone += 1;
    }
    job.state = job.failures.length === 0 ? "done" : "failed";
    job.endedMs = this.deps.clock.nowMs();
    this.deps.log.info(
      { job: job.id, state: job.state, ...job.summary, failures: job.failures.length },
      "repair finished",
    );
  }

  /**
   * One session, in a slot, paced by the shared byte budget. `live` receives progress as it
   * happens.
   */
  private async runSession(
    peer: NodeId,
    ranges: readonly RangeBounds[],
    dryRun: boolean,
    live?: SessionSummary,
  ): Promise<SessionSummary> {
    await this.acquire();
    if (this.closed) {
      this.release();
      throw new Error("the node is stopping");
    }
    let reported = emptySummary();
    let roundStartedMs = this.deps.clock.nowMs();
    this.sessionSequence += 1;
    const session = new RepairSession(
      {
        id: `${this.options.self.slice(0, 16)}-${this.sessionSequence}`,
        peer,
        ranges,
        dryRun,
        // Each session compares another window of the node hashes (tree-diff.ts NODE_HASH_BYTES).
        window: this.sessionSequence % NODE_HASH_WINDOWS,
      },
      {
        store: this.deps.store,
        transport: this.deps.transport,
        trees: this.trees,
        pace: async (bytes, summary) => {
          // A stopping node ends its sessions at the next round trip instead of finishing them.
          if (this.closed) throw new Error("the node is stopping");
          // Progress and totals move as the session does, not only at its end.
          const delta = { ...summary };
          for (const key of Object.keys(delta) as (keyof SessionSummary)[])
            delta[key] -= reported[key];
          reported = { ...summary };
          addSummary(this.totals, delta);
          if (live !== undefined) addSummary(live, delta);
          const busyMs = this.deps.clock.nowMs() - roundStartedMs;
          await this.spend(bytes);
          await this.rest(busyMs);
          roundStartedMs = this.deps.clock.nowMs();
        },
      },
    );
    try {
      const summary = await session.run();
      const delta = { ...summary };
      for (const key of Object.keys(delta) as (keyof SessionSummary)[]) delta[key] -= reported[key];
      addSummary(this.totals, delta);
      if (live !== undefined) addSummary(live, delta);
      return summary;
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.sessionsMax) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running += 1;
        resolve();
      }),
    );
  }

  private release(): void {
    this.running -= 1;
    const next = this.waiting.shift();
    if (next !== undefined) next();
  }

  /**
   * Keeps the duty cycle: after a round trip that took busyMs, waits so busy time stays within its
   * share.
   */
  private async rest(busyMs: number): Promise<void> {
    const restMs = Math.ceil((busyMs * (1 - this.busyFractionMax)) / this.busyFractionMax);
    if (restMs <= 0 || this.closed) return;
    await new Promise<void>((resolve) => this.deps.clock.schedule(restMs, resolve));
  }

  /** Takes bytes from the shared budget; waits while it is overdrawn. */
  private async spend(bytes: number): Promise<void> {
    const nowMs = this.deps.clock.nowMs();
    this.budgetBytes = Math.min(
      this.bytesPerSecondMax,
      this.budgetBytes + ((nowMs - this.budgetAtMs) / 1000) * this.bytesPerSecondMax,
    );
    this.budgetAtMs = nowMs;
    this.budgetBytes -= bytes;
    if (this.budgetBytes >= 0 || this.closed) return;
    const waitMs = Math.ceil((-this.budgetBytes / this.bytesPerSecondMax) * 1000);
    await new Promise<void>((resolve) => this.deps.clock.schedule(waitMs, resolve));
  }
}

/** A range as an operator names it: `start:end`, the tokens of /cluster/ring. */
export function rangeText(range: RangeBounds): string {
  return `${tokenToString(range.start)}:${tokenToString(range.end)}`;
}
