// net/replica-post.ts — one replica request on the wire: a POST through undici's dispatch API with
// its reply gathered into one bounded Buffer, kept apart from the batching that decides what to send.

import type { Dispatcher, Pool } from "undici";
import { REPLICA_CLIENT_DEFAULTS } from "./replica-client-defaults.js";
import { REPLICA_PATH, REPLICA_REPLY_BYTES_MAX } from "./replica-protocol.js";

export interface PostReply {
  readonly statusCode: number;
  /** The reply's bytes; for an error status its first errorBodyBytesMax bytes, or null past them. */
  readonly body: Buffer | null;
}

/**
 * One POST of a replica request, its reply collected into one Buffer. Through `Pool.dispatch` with
 * plain callbacks rather than `Pool.request`, which builds a Readable stream, an async iterator
 * and a parsed header object for every reply: per request that was the larger part of this
 * client's CPU. A 200 reply longer than REPLICA_REPLY_BYTES_MAX aborts the request (a rejection);
 * an error reply longer than errorBodyBytesMax is answered with a null body.
 */
export function post(pool: Pool, headers: Record<string, string>, body: Buffer): Promise<PostReply> {
  return new Promise<PostReply>((resolve, reject) => {
    const handler = new ReplyCollector(resolve, reject);
    try {
      pool.dispatch({ method: "POST", path: REPLICA_PATH, headers, body }, handler);
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- ReplyCollector implements undici's legacy handler interface, which undici 7 still drives
      handler.onError(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** undici's callbacks for one reply; settles its promise exactly once. */
class ReplyCollector implements Dispatcher.DispatchHandler {
  #abort: ((reason?: Error) => void) | null = null;
  #statusCode = 0;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #max: number = REPLICA_REPLY_BYTES_MAX;
  #oversized = false;
  #settled = false;

  constructor(
    private readonly resolve: (reply: PostReply) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    // 1xx interim answers are followed by the real one.
    if (statusCode < 200) return true;
    this.#statusCode = statusCode;
    if (statusCode !== 200) this.#max = REPLICA_CLIENT_DEFAULTS.errorBodyBytesMax;
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
    this.#settled = true;
    const chunks = this.#chunks;
    const body = this.#oversized ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#bytes);
    this.resolve({ statusCode: this.#statusCode, body });
  }

  onError(error: Error): void {
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.reject(error);
  }
}

/** The `error` code of a JSON error body, or a short excerpt. */
export function describeErrorBody(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === "string") return `${body.error}${typeof body.message === "string" ? `: ${body.message}` : ""}`;
  } catch {
    // Not JSON.
  }
  return text.slice(0, 120);
}
