// net/stream-client.ts — the client side of range streaming (net/stream-protocol.ts) and of the one
// question a ring change asks other nodes: "how do you see member X?" (their GET /cluster/status).
//
// Requests go through a PeerHttp (net/peer-http.ts) — by default one undici pool per peer address,
// created on first use — with a deadline on every request; replies are size-bounded and validated
// before use. A failed or refused request rejects with
// StreamRequestError, which the stream runner (topology/stream.ts) answers by retrying, from
// another source when the source failed.

import type { Address, NodeId } from "../core/ids.js";
import type { PageRequest } from "../topology/stream-pages.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import { secretHeaders } from "./auth.js";
import type { PeerTls } from "./peer-tls.js";
import type { PeerHttp } from "./peer-http.js";
import { UndiciPeerHttp } from "./undici-peer-http.js";
import {
  STREAM_FETCH_PATH,
  STREAM_PAGE_BYTES_MAX,
  STREAM_PUSH_PATH,
  streamFetchReplyCheck,
  streamPushReplyCheck,
  streamViolation,
  type StreamFetchReply,
  type StreamFetchRequest,
  type StreamPushReply,
} from "./stream-protocol.js";

export const STREAM_CLIENT_DEFAULTS = {
  /**
   * A page is at most a few MiB: a peer that takes longer than this for one is treated as failed.
   */
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  /**
   * Connections per peer: streams to one peer share them (concurrency is bounded above, in
   * stream.ts).
   */
  connectionsPerPeer: 4,
  /** A /cluster/status body of a thousand members is ~250 KB. */
  statusBytesMax: 16 * 1024 * 1024,
} as const;

export class StreamRequestError extends Error {
  override readonly name = "StreamRequestError";
}

export interface StreamClientOptions {
  readonly self: NodeId;
  readonly clusterSecret: string | null;
  readonly requestTimeoutMs?: number;
}

export interface StreamClientDeps {
  /** How requests reach a peer; by default this client's own undici pools (closed with it). */
  readonly http?: PeerHttp;
  /** With --certs-dir: its own pools speak mutual TLS with this material (net/peer-tls.ts). */
  readonly tls?: PeerTls;
}

/** How a peer sees one member, from its /cluster/status. */
export interface RemoteMemberView {
  readonly state: string;
  readonly tokens: number;
  readonly live: boolean;
}

export class StreamClient {
  readonly #options: StreamClientOptions;
  readonly #http: PeerHttp;
  readonly #ownsHttp: boolean;
  /** Addresses asked, forgotten on close when the PeerHttp is not this client's own. */
  readonly #addresses = new Set<Address>();
  readonly #timeoutMs: number;
  #closed = false;

  constructor(options: StreamClientOptions, deps: StreamClientDeps = {}) {
    this.#options = options;
    this.#timeoutMs = options.requestTimeoutMs ?? STREAM_CLIENT_DEFAULTS.requestTimeoutMs;
    this.#ownsHttp = deps.http === undefined;
    this.#http =
      deps.http ??
      new UndiciPeerHttp({
        connections: STREAM_CLIENT_DEFAULTS.connectionsPerPeer,
        connectTimeoutMs: STREAM_CLIENT_DEFAULTS.connectTimeoutMs,
        ...(deps.tls === undefined ? {} : { tls: deps.tls }),
      });
  }

  async fetchPage(address: Address, request: PageRequest): Promise<StreamFetchReply> {
    const body: StreamFetchRequest = {
      from: this.#options.self,
      start: request.range.start,
      end: request.range.end,
      limit: request.recordsMax,
      bytes: request.bytesMax,
      ...(request.afterKey === null ? {} : { after: request.afterKey }),
    };
    const reply = await this.#post(address, STREAM_FETCH_PATH, body);
    if (!streamFetchReplyCheck.Check(reply)) {
      throw new StreamRequestError(
        `${address} sent a bad stream page: ${streamViolation(streamFetchReplyCheck, reply)}`,
      );
    }
    return reply;
  }

  async pushPage(
    address: Address,
    records: readonly (readonly [string, Uint8Array])[],
  ): Promise<StreamPushReply> {
    const reply = await this.#post(address, STREAM_PUSH_PATH, {
      from: this.#options.self,
      records,
    });
    if (!streamPushReplyCheck.Check(reply)) {
      throw new StreamRequestError(
        `${address} sent a bad push reply: ${streamViolation(streamPushReplyCheck, reply)}`,
      );
    }
    return reply;
  }

  /** How the node at `address` sees `member` (undefined when it does not list it). */
  async memberView(address: Address, member: NodeId): Promise<RemoteMemberView | undefined> {
    const text = await this.#get(address, "/cluster/status");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new StreamRequestError(`${address}/cluster/status is not JSON`);
    }
    const members = (body as { members?: unknown } | null)?.members;
    if (!Array.isArray(members))
      throw new StreamRequestError(`${address}/cluster/status has no members`);
    for (const entry of members as unknown[]) {
      const m = entry as Record<string, unknown> | null;
      if (m === null || typeof m !== "object" || m["id"] !== member) continue;
      if (
        typeof m["state"] !== "string" ||
        typeof m["tokens"] !== "number" ||
        typeof m["live"] !== "boolean"
      ) {
        throw new StreamRequestError(`${address}/cluster/status has a malformed member`);
      }
      return { state: m["state"], tokens: m["tokens"], live: m["live"] };
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const addresses = [...this.#addresses];
    this.#addresses.clear();
    if (this.#ownsHttp) await this.#http.close();
    else for (const address of addresses) this.#http.forget(address);
  }

  async #post(address: Address, path: string, body: unknown): Promise<unknown> {
    const bytes = await this.#request(
      address,
      "POST",
      path,
      encodePeerBody(body),
      STREAM_PAGE_BYTES_MAX,
    );
    try {
      return decodePeerBody(bytes);
    } catch {
      throw new StreamRequestError(`${address}${path} answered with a body that is not msgpack`);
    }
  }

  async #get(address: Address, path: string): Promise<string> {
    const bytes = await this.#request(
      address,
      "GET",
      path,
      undefined,
      STREAM_CLIENT_DEFAULTS.statusBytesMax,
    );
    return bytes.toString("utf8");
  }

  async #request(
    address: Address,
    method: "GET" | "POST",
    path: string,
    body: Buffer | undefined,
    bytesMax: number,
  ): Promise<Buffer> {
    if (this.#closed) throw new StreamRequestError("the stream client is closed");
    this.#addresses.add(address);
    const secret = secretHeaders(this.#options.clusterSecret);
    let response;
    try {
      response = await this.#http.request(address, {
        method,
        path,
        headers: body === undefined ? secret : { "content-type": PEER_CONTENT_TYPE, ...secret },
        ...(body === undefined ? {} : { body }),
        replyBytesMax: bytesMax,
        timeoutMs: this.#timeoutMs,
      });
    } catch (error) {
      throw new StreamRequestError(
        `${address}${path}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (response.statusCode !== 200) {
      const text = response.body === null ? "" : response.body.toString("utf8");
      throw new StreamRequestError(
        `${address}${path} answered ${response.statusCode}: ${text.slice(0, 200)}`,
      );
    }
    return response.body ?? Buffer.alloc(0);
  }
}
