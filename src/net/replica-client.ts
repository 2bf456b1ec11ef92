// net/replica-client.ts — the ReplicaTransport (replication/replica-transport.ts) over HTTP:
// request and response to other nodes' replica routes (net/replica-protocol.ts) through a PeerHttp
// (net/peer-http.ts): by default its own undici keep-alive pools, one per peer, separate from the
// membership datagrams of peer-client.ts so a burst of replica traffic never delays a heartbeat.
//
// Coalescing. A client request costs an HTTP round trip on the coordinator and on the replica
// (~43 µs of CPU for one undici → fastify exchange here) whatever it carries, while a replica write
// itself costs ~7 µs in a store batch. So the operations for one peer are not sent one by one: they
// are queued, and the operations queued during one event-loop turn leave together in one request
// after the turn (setImmediate, so every client request parsed in that turn's I/O phase joins).
// The replica answers each operation in order and the answers fan back out to their callers. At
// most requestsInFlightPerPeerMax requests to a peer are in flight; while they are, new operations
// wait in the queue and leave together as soon as one returns: under load batches grow instead of
// requests (the store's group commit does the same, storage/store.ts).
//
// Bounds, and what happens at each. A request carries at most opsPerRequestMax operations, about
// requestBytesTarget bytes, and so many data reads that their values fit replyBytesTarget; a
// larger flush is split. At most queuedOpsPerPeerMax operations wait for one peer: past it an
// operation fails at once with ReplicaOverloadedError (a stalled peer must not pile up memory),
// which the coordinator counts as that replica not acknowledging. An operation that waited longer
// than the request deadline is failed without being sent (its coordinator has answered already).
// Replies larger than REPLICA_REPLY_BYTES_MAX are refused. Every failure rejects exactly the
// operations it concerns; nothing here throws synchronously.

import type { Address, NodeId } from "../core/ids.js";
import type { StoredRecord } from "../storage/record.js";
import type { ReplicaTransport, VersionDigest } from "../replication/replica-transport.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import { secretHeaders } from "./auth.js";
import type { PeerTls } from "./peer-tls.js";
import type { PeerHttp } from "./peer-http.js";
import { UndiciPeerHttp } from "./undici-peer-http.js";
import {
  firstViolation,
  REPLICA_PATH,
  REPLICA_PROTOCOL_LIMITS,
  REPLICA_REPLY_BYTES_MAX,
  replicaReplyCheck,
  type ReplicaOp,
  type ReplicaResult,
} from "./replica-protocol.js";
import { REPLICA_CLIENT_DEFAULTS } from "./replica-client-defaults.js";
import { describeErrorBody, ReplicaRequestError } from "./replica-client-errors.js";
import {
  OP_OVERHEAD_BYTES,
  OpKind,
  settleOp,
  type OpValue,
  type PendingOp,
} from "./replica-pending-op.js";

export { ReplicaOpRefusedError, ReplicaRequestError } from "./replica-client-errors.js";

export interface ReplicaClientOptions {
  /** This node, named in every request (`from`). */
  readonly self: NodeId;
  readonly clusterSecret: string | null;
  /**
   * The coordinator's deadline: how long an operation may wait in the queue; requests get twice it.
   */
  readonly requestTimeoutMs: number;
  /** This node's --max-value-bytes: how many data reads fit one request's reply. */
  readonly maxValueBytes: number;
  /** Coalesce the operations to one peer of one event-loop turn into one request. Default on. */
  readonly coalesce?: boolean;
  readonly connectionsPerPeer?: number;
  readonly requestsInFlightPerPeerMax?: number;
  readonly queuedOpsPerPeerMax?: number;
  readonly peersMax?: number;
}

export interface ReplicaClientLog {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface ReplicaClientDeps {
  /**
   * The node's clock (core/clock.ts), for queue ages and expiry; the simulator passes virtual time.
   */
  nowMs(): number;
  /** A member's address as gossip knows it; undefined when unknown. */
  addressOf(id: NodeId): Address | undefined;
  readonly log: ReplicaClientLog;
  /** Called with each request's operation count as it is sent (the batch-size histogram). */
  onRequestSent?(ops: number): void;
  /**
   * How requests reach a peer; by default this client's own undici pools (closed with it). An
   * injected one is closed by its owner; the client only `forget`s addresses it stops using.
   */
  readonly http?: PeerHttp;
  /** With --certs-dir: its own pools speak mutual TLS with this material (net/peer-tls.ts). */
  readonly tls?: PeerTls;
}

export interface ReplicaClientStats {
  readonly requestsSent: number;
  readonly opsSent: number;
  readonly bytesSent: number;
  /** Requests that failed as a whole: unreachable, timed out, refused, malformed reply. */
  readonly requestsFailed: number;
  /** Operations a replica answered with an error (overloaded, bad key, ...). */
  readonly opsRefused: number;
  /** Operations failed before sending: queue full, no address, waited past the deadline, closed. */
  readonly opsDropped: number;
}

interface Lane {
  readonly id: NodeId;
  readonly address: Address;
  queue: PendingOp[];
  inFlight: number;
  flushScheduled: boolean;
}

export class ReplicaClient implements ReplicaTransport {
  readonly #options: Required<Omit<ReplicaClientOptions, "clusterSecret">>;
  readonly #deps: ReplicaClientDeps;
  readonly #headers: Record<string, string>;
  readonly #lanes = new Map<NodeId, Lane>();
  readonly #http: PeerHttp;
  readonly #ownsHttp: boolean;
  /** A request's own timeout: see REPLICA_CLIENT_DEFAULTS.backstopTimeoutDeadlines. */
  readonly #backstopMs: number;
  /** Lanes with operations to flush after this turn. */
  #dueLanes: Lane[] = [];
  #flushScheduled = false;
  readonly #dataReadsPerRequestMax: number;
  #closed = false;
  #requestsSent = 0;
  #opsSent = 0;
  #bytesSent = 0;
  #requestsFailed = 0;
  #opsRefused = 0;
  #opsDropped = 0;

  constructor(options: ReplicaClientOptions, deps: ReplicaClientDeps) {
    this.#options = {
      coalesce: true,
      connectionsPerPeer: REPLICA_CLIENT_DEFAULTS.connectionsPerPeer,
      requestsInFlightPerPeerMax: REPLICA_CLIENT_DEFAULTS.requestsInFlightPerPeerMax,
      queuedOpsPerPeerMax: REPLICA_CLIENT_DEFAULTS.queuedOpsPerPeerMax,
      peersMax: REPLICA_CLIENT_DEFAULTS.peersMax,
      ...options,
    };
    this.#deps = deps;
    this.#backstopMs = options.requestTimeoutMs * REPLICA_CLIENT_DEFAULTS.backstopTimeoutDeadlines;
    this.#ownsHttp = deps.http === undefined;
    this.#http =
      deps.http ??
      new UndiciPeerHttp({
        connections: this.#options.connectionsPerPeer,
        pipelining: 1,
        keepAliveMs: REPLICA_CLIENT_DEFAULTS.keepAliveMs,
        connectTimeoutMs: Math.min(
          REPLICA_CLIENT_DEFAULTS.connectTimeoutMs,
          options.requestTimeoutMs,
        ),
        ...(deps.tls === undefined ? {} : { tls: deps.tls }),
      });
    this.#headers = { "content-type": PEER_CONTENT_TYPE, ...secretHeaders(options.clusterSecret) };
    this.#dataReadsPerRequestMax = Math.max(
      1,
      Math.floor(REPLICA_PROTOCOL_LIMITS.replyBytesTarget / Math.max(1, options.maxValueBytes)),
    );
  }

  write(to: NodeId, key: string, encodedRecord: Uint8Array): Promise<void> {
    return this.#enqueue(
      to,
      OpKind.Write,
      ["w", key, encodedRecord],
      key.length + encodedRecord.length,
    ) as Promise<void>;
  }

  writeFallback(
    to: NodeId,
    primary: NodeId,
    key: string,
    encodedRecord: Uint8Array,
  ): Promise<void> {
    return this.#enqueue(
      to,
      OpKind.Write,
      ["f", key, encodedRecord, primary],
      key.length + encodedRecord.length + primary.length,
    ) as Promise<void>;
  }

  readFallback(to: NodeId, key: string): Promise<StoredRecord | undefined> {
    return this.#enqueue(to, OpKind.Data, ["F", key], key.length) as Promise<
      StoredRecord | undefined
    >;
  }

  readData(to: NodeId, key: string): Promise<StoredRecord | undefined> {
    return this.#enqueue(to, OpKind.Data, ["r", key], key.length) as Promise<
      StoredRecord | undefined
    >;
  }

  readDigest(to: NodeId, key: string): Promise<VersionDigest | null> {
    return this.#enqueue(
      to,
      OpKind.Digest,
      ["d", key],
      key.length,
    ) as Promise<VersionDigest | null>;
  }

  stats(): ReplicaClientStats {
    return {
      requestsSent: this.#requestsSent,
      opsSent: this.#opsSent,
      bytesSent: this.#bytesSent,
      requestsFailed: this.#requestsFailed,
      opsRefused: this.#opsRefused,
      opsDropped: this.#opsDropped,
    };
  }

  /** Fails every queued operation and closes its own pools; in-flight requests are abandoned. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lanes = [...this.#lanes.values()];
    this.#lanes.clear();
    for (const lane of lanes) this.#failQueue(lane, "closed", "the replica client is closed");
    if (this.#ownsHttp) await this.#http.close();
    else for (const lane of lanes) this.#http.forget(lane.address);
  }

  // --- queueing
  // -----------------------------------------------------------------------------------

  #enqueue(to: NodeId, kind: OpKind, wire: ReplicaOp, bytes: number): Promise<OpValue> {
    return new Promise<OpValue>((resolve, reject) => {
      if (this.#closed) {
        this.#opsDropped++;
        reject(new ReplicaRequestError(to, "closed", "the replica client is closed"));
        return;
      }
      const lane = this.#lane(to);
      if (lane === null) {
        this.#opsDropped++;
        reject(new ReplicaRequestError(to, "no-address", `no known address for replica ${to}`));
        return;
      }
      if (lane.queue.length >= this.#options.queuedOpsPerPeerMax) {
        this.#opsDropped++;
        reject(
          new ReplicaRequestError(
            to,
            "overloaded",
            `${lane.queue.length} operations already wait for replica ${to}`,
          ),
        );
        return;
      }
      lane.queue.push({
        kind,
        wire,
        bytes: bytes + OP_OVERHEAD_BYTES,
        enqueuedMs: this.#deps.nowMs(),
        resolve,
        reject,
      });
      this.#scheduleFlush(lane);
    });
  }

  #scheduleFlush(lane: Lane): void {
    if (!this.#options.coalesce) {
      this.#flushLane(lane);
      return;
    }
    if (lane.flushScheduled) return;
    lane.flushScheduled = true;
    this.#dueLanes.push(lane);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After this turn: every operation issued while this turn's I/O callbacks run joins the
    // request.
    setImmediate(this.#flushDue);
  }

  readonly #flushDue = (): void => {
    this.#flushScheduled = false;
    const lanes = this.#dueLanes;
    this.#dueLanes = [];
    for (const lane of lanes) {
      lane.flushScheduled = false;
      this.#flushLane(lane);
    }
  };

  #flushLane(lane: Lane): void {
    const maxInFlight = this.#options.requestsInFlightPerPeerMax;
    while (lane.queue.length > 0 && lane.inFlight < maxInFlight && !this.#closed) {
      const chunk = this.#takeChunk(lane);
      if (chunk.length > 0) this.#send(lane, chunk);
    }
  }

  /**
   * Takes the next request's operations off the lane's queue, failing those that waited too long.
   */
  #takeChunk(lane: Lane): PendingOp[] {
    const queue = lane.queue;
    const opsMax = this.#options.coalesce ? REPLICA_PROTOCOL_LIMITS.opsPerRequestMax : 1;
    const expiredBeforeMs = this.#deps.nowMs() - this.#options.requestTimeoutMs;
    const chunk: PendingOp[] = [];
    let bytes = 0;
    let dataReads = 0;
    let taken = 0;
    for (; taken < queue.length && chunk.length < opsMax; taken++) {
      const op = queue[taken] as PendingOp;
      if (op.enqueuedMs < expiredBeforeMs) {
        this.#opsDropped++;
        op.reject(
          new ReplicaRequestError(
            lane.id,
            "expired",
            `the operation waited past the deadline for ${lane.id}`,
          ),
        );
        continue;
      }
      if (chunk.length > 0) {
        if (bytes + op.bytes > REPLICA_PROTOCOL_LIMITS.requestBytesTarget) break;
        if (op.kind === OpKind.Data && dataReads >= this.#dataReadsPerRequestMax) break;
      }
      chunk.push(op);
      bytes += op.bytes;
      if (op.kind === OpKind.Data) dataReads++;
    }
    lane.queue = taken === queue.length ? [] : queue.slice(taken);
    return chunk;
  }

  // --- sending
  // ------------------------------------------------------------------------------------

  #send(lane: Lane, chunk: PendingOp[]): void {
    const wire: ReplicaOp[] = new Array<ReplicaOp>(chunk.length);
    for (let index = 0; index < chunk.length; index++)
      wire[index] = (chunk[index] as PendingOp).wire;
    let body: Buffer;
    try {
      body = encodePeerBody({ from: this.#options.self, ops: wire });
    } catch (error) {
      this.#failChunk(
        chunk,
        new ReplicaRequestError(
          lane.id,
          "refused",
          `cannot encode a replica request: ${String(error)}`,
        ),
      );
      return;
    }
    lane.inFlight++;
    this.#requestsSent++;
    this.#opsSent += chunk.length;
    this.#bytesSent += body.length;
    this.#deps.onRequestSent?.(chunk.length);
    // #exchange settles every op of the chunk itself, failures included: it never rejects.
    void this.#exchange(lane, chunk, body).finally(() => {
      lane.inFlight--;
      if (lane.queue.length > 0 && !this.#closed) this.#scheduleFlush(lane);
    });
  }

  async #exchange(lane: Lane, chunk: PendingOp[], body: Buffer): Promise<void> {
    let results: ReplicaResult[];
    try {
      const response = await this.#http.request(lane.address, {
        method: "POST",
        path: REPLICA_PATH,
        to: lane.id,
        headers: this.#headers,
        body,
        replyBytesMax: REPLICA_REPLY_BYTES_MAX,
        // A backstop for a peer that never answers (SIGSTOP): the coordinator's own deadline is the
        // precise one, this frees the connection for the operations queued behind it.
        timeoutMs: this.#backstopMs,
      });
      if (response.statusCode !== 200) {
        const text = response.body === null ? "" : response.body.toString("utf8");
        throw new ReplicaRequestError(
          lane.id,
          "refused",
          `replica ${lane.id} answered ${response.statusCode} ${describeErrorBody(text)}`,
        );
      }
      const bytes = response.body ?? Buffer.alloc(0);
      let decoded: unknown;
      try {
        decoded = decodePeerBody(bytes);
      } catch {
        throw new ReplicaRequestError(
          lane.id,
          "malformed-reply",
          `replica ${lane.id} answered with invalid msgpack`,
        );
      }
      if (!replicaReplyCheck.Check(decoded)) {
        throw new ReplicaRequestError(
          lane.id,
          "malformed-reply",
          `replica ${lane.id}: ${firstViolation(replicaReplyCheck, decoded)}`,
        );
      }
      if (decoded.results.length !== chunk.length) {
        throw new ReplicaRequestError(
          lane.id,
          "malformed-reply",
          `replica ${lane.id} answered ${decoded.results.length} results for ${chunk.length} operations`,
        );
      }
      results = decoded.results;
    } catch (error) {
      this.#requestsFailed++;
      const failure =
        error instanceof ReplicaRequestError
          ? error
          : new ReplicaRequestError(
              lane.id,
              "unreachable",
              `replica ${lane.id}: ${error instanceof Error ? error.message : String(error)}`,
            );
      this.#deps.log.debug(
        { replica: lane.id, reason: failure.reason, err: failure.message },
        "replica request failed",
      );
      this.#failChunk(chunk, failure);
      return;
    }
    for (let index = 0; index < chunk.length; index++) {
      if (!settleOp(lane.id, chunk[index] as PendingOp, results[index] as ReplicaResult))
        this.#opsRefused++;
    }
  }

  #failChunk(chunk: readonly PendingOp[], error: Error): void {
    for (const op of chunk) op.reject(error);
  }

  #failQueue(lane: Lane, reason: "closed", message: string): void {
    const queue = lane.queue;
    lane.queue = [];
    this.#opsDropped += queue.length;
    this.#failChunk(queue, new ReplicaRequestError(lane.id, reason, message));
  }

  // --- lanes
  // --------------------------------------------------------------------------------------

  #lane(id: NodeId): Lane | null {
    const address = this.#deps.addressOf(id);
    if (address === undefined) return null;
    const existing = this.#lanes.get(id);
    if (existing !== undefined) {
      if (existing.address === address) return existing;
      // The member came back at another address: its old pool is useless.
      this.#lanes.delete(id);
      this.#failQueue(existing, "closed", `replica ${id} moved to ${address}`);
      this.#http.forget(existing.address);
    }
    const lane: Lane = { id, address, queue: [], inFlight: 0, flushScheduled: false };
    this.#lanes.set(id, lane);
    if (this.#lanes.size > this.#options.peersMax) this.#evictIdle();
    return lane;
  }

  #evictIdle(): void {
    for (const [id, lane] of this.#lanes) {
      if (lane.inFlight > 0 || lane.queue.length > 0 || lane.flushScheduled) continue;
      this.#lanes.delete(id);
      this.#http.forget(lane.address);
      return;
    }
  }
}
