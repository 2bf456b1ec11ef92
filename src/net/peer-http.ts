// net/peer-http.ts — the port through which a node's clients (replica, repair, stream, peer) send
// one HTTP request to another node and get its reply. The node uses undici pools
// (net/undici-peer-http.ts); the simulator delivers the same bytes through its simulated network
// into the receiver's internal routes (sim/sim-http.ts), so the clients' batching, deadlines,
// encoding and reply checks are the real ones in both.

import type { Address, NodeId } from "../core/ids.js";

/** Bytes of an error reply (a status other than 200) kept for its message; a longer one is null. */
export const PEER_HTTP_ERROR_BODY_BYTES_MAX = 64 * 1024;

export interface PeerHttpRequest {
  readonly method: "GET" | "POST";
  /** Path and query, e.g. "/internal/v1/replica". */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /**
   * A 200 reply longer than this rejects the request; a reply with another status is kept only up
   * to PEER_HTTP_ERROR_BODY_BYTES_MAX bytes (body null past it).
   */
  readonly replyBytesMax: number;
  /** The request rejects when no complete reply came within this many ms. */
  readonly timeoutMs: number;
  /**
   * The member meant, when the caller knows it (not a gossip to a seed): with mutual TLS its
   * server's certificate must name it (net/peer-tls.ts `checkServer`).
   */
  readonly to?: NodeId;
}

export interface PeerHttpReply {
  readonly statusCode: number;
  /** The reply's bytes; null when an error reply was longer than the error bound. */
  readonly body: Buffer | null;
}

export interface PeerHttp {
  /** Rejects on transport failure (refused, reset, timeout, reply too large); never on a status. */
  request(address: Address, request: PeerHttpRequest): Promise<PeerHttpReply>;
  /** Drops what is kept for an address no longer used (its pool). */
  forget(address: Address): void;
  /** Closes everything; in-flight requests reject. */
  close(): Promise<void>;
}
