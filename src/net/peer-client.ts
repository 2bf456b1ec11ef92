// net/peer-client.ts — sends peer messages to other nodes over HTTP, through a PeerHttp
// (net/peer-http.ts): by default undici keep-alive pools of its own.
//
// Membership messages are datagrams: the sender does not wait for an answer and a lost message is
// repaired by the next round, so send() never throws or returns a promise. What can go wrong is
// counted instead: a refused or timed-out request is a failure; a message that cannot be sent
// because too many are already in flight to that peer (a stopped or slow node) is dropped.
// Everything is bounded: connections per peer, in-flight messages per peer, the number of peers
// with an open pool (the least recently used is closed past it), the body size and each request's
// time.

import type { Address } from "../core/ids.js";
import {
  validateHeartbeatReply,
  type HeartbeatReply,
  type PeerMessage,
} from "../cluster/peer-messages.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import { secretHeaders } from "./auth.js";
import { PEER_HTTP_ERROR_BODY_BYTES_MAX, type PeerHttp } from "./peer-http.js";
import { UndiciPeerHttp } from "./undici-peer-http.js";
import type { PeerTls } from "./peer-tls.js";
import { PEER_BODY_BYTES_MAX, PEER_PATH } from "./peer-protocol.js";

export const PEER_CLIENT_DEFAULTS = {
  /**
   * Keep-alive connections per peer: gossip and heartbeats need one or two; the rest absorb bursts.
   */
  connectionsPerPeer: 4,
  /**
   * Messages in flight to one peer; past it new ones are dropped (a stalled peer must not pile them
   * up).
   */
  inFlightPerPeerMax: 64,
  /**
   * Peers with an open pool; gossip can name many addresses, the least recently used pool is
   * closed.
   */
  peersMax: 1_024,
  /** How long an idle keep-alive connection is kept: a few gossip rounds. */
  keepAliveMs: 10_000,
  /** A dead host should not hold a connection attempt for the whole request time. */
  connectTimeoutMs: 1_000,
} as const;

export interface PeerClientOptions {
  readonly clusterSecret: string | null;
  /** Deadline for one message: connect, send and the 204. */
  readonly requestTimeoutMs: number;
  readonly connectionsPerPeer?: number;
  readonly inFlightPerPeerMax?: number;
  readonly peersMax?: number;
  readonly bodyBytesMax?: number;
}

/** Where the client reports what went wrong; the node passes its logger. */
export interface PeerClientLog {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface PeerClientStats {
  readonly sent: number;
  readonly bytesSent: number;
  /** Requests that failed: connection refused, timeout, or a non-2xx answer. */
  readonly failed: number;
  /** Messages never sent: too many in flight to the peer, oversized, or an unusable address. */
  readonly dropped: number;
  /** 200 answers that were not valid heartbeat replies. */
  readonly repliesMalformed: number;
}

/** What the client hands back to the node: a monitor's answer to a timed heartbeat. */
export interface PeerClientDeps {
  /** The wall clock (ms), read as a heartbeat reply arrives: t3 of the NTP exchange. */
  readonly wallMs?: () => number;
  /** Called with each valid heartbeat reply and its arrival time t3 (time/clock-offset.ts). */
  readonly onHeartbeatReply?: (reply: HeartbeatReply, t3: number) => void;
  /**
   * How messages reach a peer; by default this client's own undici pools (closed with it). An
   * injected one is closed by its owner; the client only `forget`s addresses it stops using.
   */
  readonly http?: PeerHttp;
  /** With --certs-dir: its own pools speak mutual TLS with this material (net/peer-tls.ts). */
  readonly tls?: PeerTls;
}

/** A heartbeat reply is a few ids and numbers; anything larger is not one. */
const HEARTBEAT_REPLY_BYTES_MAX = 1_024;

interface PeerConnection {
  inFlight: number;
}

export class PeerClient {
  readonly #options: Required<PeerClientOptions>;
  readonly #log: PeerClientLog;
  readonly #peers = new Map<Address, PeerConnection>();
  readonly #http: PeerHttp;
  readonly #ownsHttp: boolean;
  readonly #headers: Record<string, string>;
  /**
   * Peers whose non-2xx status was already logged, so a misconfigured peer warns once, not every
   * round.
   */
  readonly #warned = new Set<string>();
  #sent = 0;
  #bytesSent = 0;
  #failed = 0;
  #dropped = 0;
  #closed = false;
  readonly #deps: PeerClientDeps;
  #repliesMalformed = 0;

  constructor(options: PeerClientOptions, log: PeerClientLog, deps: PeerClientDeps = {}) {
    this.#deps = deps;
    this.#options = {
      connectionsPerPeer: PEER_CLIENT_DEFAULTS.connectionsPerPeer,
      inFlightPerPeerMax: PEER_CLIENT_DEFAULTS.inFlightPerPeerMax,
      peersMax: PEER_CLIENT_DEFAULTS.peersMax,
      bodyBytesMax: PEER_BODY_BYTES_MAX,
      ...options,
    };
    this.#log = log;
    this.#ownsHttp = deps.http === undefined;
    this.#http =
      deps.http ??
      new UndiciPeerHttp({
        connections: this.#options.connectionsPerPeer,
        pipelining: 1,
        keepAliveMs: PEER_CLIENT_DEFAULTS.keepAliveMs,
        connectTimeoutMs: Math.min(
          PEER_CLIENT_DEFAULTS.connectTimeoutMs,
          this.#options.requestTimeoutMs,
        ),
        ...(deps.tls === undefined ? {} : { tls: deps.tls }),
      });
    this.#headers = { "content-type": PEER_CONTENT_TYPE, ...secretHeaders(options.clusterSecret) };
  }

  /** Sends one message; never throws, never waits. */
  send(address: Address, message: PeerMessage): void {
    void this.deliver(address, message);
  }

  /**
   * Sends one message like send(), and resolves once the peer has answered or the send has failed
   * (never rejects): for the one message a caller must see through, a clean stop's announcement.
   */
  deliver(address: Address, message: PeerMessage): Promise<void> {
    if (this.#closed) {
      this.#dropped++;
      return Promise.resolve();
    }
    let body: Buffer;
    try {
      body = encodePeerBody(message);
    } catch (error) {
      this.#dropped++;
      this.#log.warn(
        { err: error, address, kind: message.kind },
        "peer message could not be encoded",
      );
      return Promise.resolve();
    }
    if (body.length > this.#options.bodyBytesMax) {
      this.#dropped++;
      this.#log.warn(
        { address, kind: message.kind, bytes: body.length },
        "peer message too large, dropped",
      );
      return Promise.resolve();
    }
    const peer = this.#peer(address);
    if (peer.inFlight >= this.#options.inFlightPerPeerMax) {
      this.#dropped++;
      return Promise.resolve();
    }
    peer.inFlight++;
    this.#sent++;
    this.#bytesSent += body.length;
    return this.#deliver(address, body).finally(() => {
      peer.inFlight--;
    });
  }

  stats(): PeerClientStats {
    return {
      sent: this.#sent,
      bytesSent: this.#bytesSent,
      failed: this.#failed,
      dropped: this.#dropped,
      repliesMalformed: this.#repliesMalformed,
    };
  }

  /** Closes its own pools; in-flight messages are abandoned (they are datagrams). */
  async close(): Promise<void> {
    this.#closed = true;
    const addresses = [...this.#peers.keys()];
    this.#peers.clear();
    if (this.#ownsHttp) await this.#http.close();
    else for (const address of addresses) this.#http.forget(address);
  }

  async #deliver(address: Address, body: Buffer): Promise<void> {
    try {
      const response = await this.#http.request(address, {
        method: "POST",
        path: PEER_PATH,
        headers: this.#headers,
        body,
        // Peers answer 204, a heartbeat reply, or a small JSON error; past this it is a failure.
        replyBytesMax: PEER_HTTP_ERROR_BODY_BYTES_MAX,
        timeoutMs: this.#options.requestTimeoutMs,
      });
      if (response.statusCode === 200 && this.#deps.onHeartbeatReply !== undefined) {
        // A timed heartbeat's answer: read t3 first, before any decoding delays it.
        const t3 = this.#deps.wallMs?.();
        this.#heartbeatReply(response.body, t3, this.#deps.onHeartbeatReply);
        return;
      }
      if (response.statusCode >= 300) {
        this.#failed++;
        const key = `${address} ${response.statusCode}`;
        if (!this.#warned.has(key) && this.#warned.size < this.#options.peersMax) {
          this.#warned.add(key);
          this.#log.warn({ address, status: response.statusCode }, "peer refused a message");
        }
      }
    } catch (error) {
      this.#failed++;
      this.#log.debug(
        { address, err: error instanceof Error ? error.message : String(error) },
        "peer send failed",
      );
    }
  }

  #heartbeatReply(
    bytes: Buffer | null,
    t3: number | undefined,
    onReply: (reply: HeartbeatReply, t3: number) => void,
  ): void {
    let reply: HeartbeatReply | null = null;
    // A peer answering 200 with a large body is not answering a heartbeat.
    if (t3 !== undefined && bytes !== null && bytes.length <= HEARTBEAT_REPLY_BYTES_MAX) {
      try {
        reply = validateHeartbeatReply(decodePeerBody(bytes));
      } catch {
        reply = null;
      }
    }
    if (reply === null || t3 === undefined) this.#repliesMalformed++;
    else onReply(reply, t3);
  }

  #peer(address: Address): PeerConnection {
    const existing = this.#peers.get(address);
    if (existing !== undefined) {
      // Map order is recency order: move to the end.
      this.#peers.delete(address);
      this.#peers.set(address, existing);
      return existing;
    }
    const peer: PeerConnection = { inFlight: 0 };
    this.#peers.set(address, peer);
    if (this.#peers.size > this.#options.peersMax) this.#evictOldest();
    return peer;
  }

  #evictOldest(): void {
    for (const [address, peer] of this.#peers) {
      if (peer.inFlight > 0) continue;
      this.#peers.delete(address);
      this.#http.forget(address);
      return;
    }
  }
}
