// net/undici-peer-http.ts — the node's PeerHttp (net/peer-http.ts): one undici keep-alive Pool per
// peer address, created on first use with the pool options of the client that owns it, and every
// request sent through undici's dispatch API with its reply gathered into one bounded Buffer.
//
// This is the runtime edge of the node-to-node clients: it owns sockets and the one timer per
// request that enforces the port's deadline, which is why test/unit/architecture.test.ts lets this
// file (alone in net/) own a timer. The clients above it only build bytes and judge replies, so
// the simulator can carry the same requests over its own network.

import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Pool, type Dispatcher } from "undici";
import type { Address, NodeId } from "../core/ids.js";
import { PeerLookup } from "./peer-lookup.js";
import type { PeerTls } from "./peer-tls.js";
import {
  PEER_HTTP_ERROR_BODY_BYTES_MAX,
  type PeerHttp,
  type PeerHttpReply,
  type PeerHttpRequest,
} from "./peer-http.js";

/** The pool every address gets: what the owning client passed to `new Pool` before this port. */
export interface UndiciPeerHttpOptions {
  /** Keep-alive connections per address. */
  readonly connections: number;
  /** Requests per connection at once; undici's default (1) when absent. */
  readonly pipelining?: number;
  /** An idle keep-alive connection is closed after this; undici's default when absent. */
  readonly keepAliveMs?: number;
  /** A dead host should not hold a connection attempt for a whole request deadline. */
  readonly connectTimeoutMs: number;
  /**
   * Absent: plain HTTP. Present: HTTPS with mutual TLS, the peer's certificate verified against
   * the cluster's CA (and by the PeerTls's `checkServer`, when it has one) and this node's
   * presented; a change of the material drops every pool, so the next request connects with the
   * new (in-flight requests finish on the old connections).
   */
  readonly tls?: PeerTls;
}

export class UndiciPeerHttp implements PeerHttp {
  readonly #options: UndiciPeerHttpOptions;
  /**
   * Pools by address, then by the member meant ("" for any): when servers are judged
   * (`tls.checkServer`), a connection made for one member is never lent to a request for another.
   */
  readonly #pools = new Map<Address, Map<string, Pool>>();
  readonly #lookup = new PeerLookup();
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(options: UndiciPeerHttpOptions) {
    this.#options = options;
    this.#unsubscribe = options.tls?.onChange(() => this.#dropPools()) ?? ((): void => undefined);
  }

  request(address: Address, request: PeerHttpRequest): Promise<PeerHttpReply> {
    return new Promise<PeerHttpReply>((resolve, reject) => {
      let pool: Pool;
      try {
        pool = this.#pool(address, request.to);
      } catch (error) {
        reject(asError(error));
        return;
      }
      const handler = new ReplyCollector(request.replyBytesMax, resolve, reject);
      handler.startDeadline(request.timeoutMs);
      try {
        pool.dispatch(
          {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body: request.body ?? null,
            // undici's own phase timeouts free a connection to a peer that stopped answering even
            // before the deadline timer's abort reaches it.
            headersTimeout: request.timeoutMs,
            bodyTimeout: request.timeoutMs,
          },
          handler,
        );
      } catch (error) {
        // ReplyCollector implements undici's legacy handler interface, which undici 7 still drives.
        // eslint-disable-next-line @typescript-eslint/no-deprecated
        handler.onError(asError(error));
      }
    });
  }

  forget(address: Address): void {
    const pools = this.#pools.get(address);
    if (pools === undefined) return;
    this.#pools.delete(address);
    for (const pool of pools.values()) void pool.close().catch(() => undefined);
  }

  /** Every pool, removed from the map. */
  #takePools(): Pool[] {
    const pools = [...this.#pools.values()].flatMap((byMember) => [...byMember.values()]);
    this.#pools.clear();
    return pools;
  }

  #dropPools(): void {
    for (const pool of this.#takePools()) void pool.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    this.#lookup.close();
    await Promise.allSettled(this.#takePools().map((pool) => pool.destroy()));
  }

  #pool(address: Address, to: NodeId | undefined): Pool {
    if (this.#closed) throw new Error("the peer transport is closed");
    const member = this.#options.tls?.checkServer === undefined ? "" : (to ?? "");
    let byMember = this.#pools.get(address);
    if (byMember === undefined) {
      byMember = new Map();
      this.#pools.set(address, byMember);
    }
    const existing = byMember.get(member);
    if (existing !== undefined) return existing;
    const options = this.#options;
    const tls = options.tls?.current();
    const pool = new Pool(`${tls === undefined ? "http" : "https"}://${address}`, {
      connections: options.connections,
      ...(options.pipelining === undefined ? {} : { pipelining: options.pipelining }),
      ...(options.keepAliveMs === undefined ? {} : { keepAliveTimeout: options.keepAliveMs }),
      connectTimeout: options.connectTimeoutMs,
      connect: {
        lookup: this.#lookup.lookup,
        ...(tls === undefined ? {} : { ca: tls.ca, cert: tls.cert, key: tls.key }),
        ...this.#serverCheck(address, member === "" ? undefined : member),
      },
    });
    // Connection errors surface on the requests that hit them; the event itself needs no handling.
    pool.on("connectionError", () => undefined);
    byMember.set(member, pool);
    return pool;
  }

  /**
   * The PeerTls's judgement of the server at `address`, after node:tls's own host name check. A
   * resumed TLS session skips that check, so none is cached: who is expected at an address can
   * change between two connections of the pool, and each is judged.
   */
  #serverCheck(
    address: Address,
    to: NodeId | undefined,
  ): {
    checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
    maxCachedSessions?: number;
  } {
    const peerTls = this.#options.tls;
    if (peerTls?.checkServer === undefined) return {};
    return {
      maxCachedSessions: 0,
      checkServerIdentity: (host, cert) =>
        checkServerIdentity(host, cert) ?? peerTls.checkServer?.(address, cert, to),
    };
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * undici's callbacks for one reply; settles its promise exactly once. Plain callbacks rather than
 * `Pool.request`, which builds a Readable stream, an async iterator and a parsed header object for
 * every reply: per request that was the larger part of the replica client's CPU. A 200 reply longer
 * than the request's bound aborts the request (a rejection); an error reply longer than
 * PEER_HTTP_ERROR_BODY_BYTES_MAX is answered with a null body.
 */
class ReplyCollector implements Dispatcher.DispatchHandler {
  #abort: ((reason?: Error) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #statusCode = 0;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #max: number;
  #oversized = false;
  #settled = false;

  constructor(
    private readonly okBytesMax: number,
    private readonly resolve: (reply: PeerHttpReply) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.#max = okBytesMax;
  }

  /** The port's deadline: the whole exchange, queueing in the pool included, within `ms`. */
  startDeadline(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#fail(new Error(`no reply within ${ms} ms`));
      this.#abort?.(new Error("deadline passed"));
    }, ms);
    // A pending request must not keep the process alive on its own.
    this.#timer.unref();
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
    // Its deadline passed while it waited in the pool: do not send it.
    if (this.#settled) abort(new Error("deadline passed"));
  }

  onHeaders(statusCode: number): boolean {
    // 1xx interim answers are followed by the real one.
    if (statusCode < 200) return true;
    this.#statusCode = statusCode;
    this.#max = statusCode === 200 ? this.okBytesMax : PEER_HTTP_ERROR_BODY_BYTES_MAX;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#oversized) return true;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max) {
      this.#oversized = true;
      this.#chunks = [];
      if (this.#statusCode === 200) {
        this.#fail(new Error(`the reply is larger than ${this.#max} bytes`));
        this.#abort?.(new Error("reply too large"));
      }
      return true;
    }
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.#settled) return;
    this.#settle();
    const chunks = this.#chunks;
    const body = this.#oversized
      ? null
      : chunks.length === 1
        ? (chunks[0] as Buffer)
        : Buffer.concat(chunks, this.#bytes);
    this.resolve({ statusCode: this.#statusCode, body });
  }

  onError(error: Error): void {
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#settled) return;
    this.#settle();
    this.reject(error);
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
