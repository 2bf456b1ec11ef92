// cli/bench/kv-client.ts — the benchmark's HTTP client for SPEC §2's `/kv/:key`: one undici Pool
// per node, keep-alive connections, and an outcome per request that is either success or a short
// error kind for the recorder.
//
// The generator must never be what limits a benchmark, so this is the cheapest path undici has:
// `Pool.dispatch` with a handler of plain callbacks (the handler API undici's core calls
// directly; the `onResponseStart` style would be wrapped and its headers parsed into an object on
// every response), no response headers parsed, successful bodies dropped as they arrive, and only
// an error body's first bytes kept to read its `error` code. Pools use one request per connection
// at a time (no pipelining: a closed-loop YCSB client waits for each answer), and the caller sizes
// them so that the connections across all pools match its concurrency.

import { Pool, type Dispatcher } from "undici";
import { authHeaders } from "../token-client.js";
import { tlsConnect } from "../tls-client.js";
import { assert } from "../../core/assert.js";

export const KV_CLIENT_LIMITS = {
  /** An error body is read up to this many bytes to find its `error` code; the rest is dropped. */
  errorBodyBytesMax: 4_096,
  /** Connections a pool may open; the OS's file descriptors are the real bound. */
  connectionsPerNodeMax: 4_096,
  nodesMax: 64,
} as const;

/**
 * `null` for success, else the kind of failure: `404 not_found`, `503 unavailable`, `timeout`,
 * `connection ECONNREFUSED`.
 */
export type RequestOutcome = string | null;

export interface KvClientOptions {
  /** Node base URLs, `http://host:port`. */
  readonly urls: readonly string[];
  readonly connectionsPerNode: number;
  /** Deadline for a response's headers and, separately, for the gap between body chunks. */
  readonly requestTimeoutMs: number;
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** A failure thrown by undici or the socket, as an error kind. */
export function errorKindOf(error: unknown): string {
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === "string") {
    if (TIMEOUT_CODES.has(code)) return "timeout";
    if (code === "UND_ERR_CONNECT_TIMEOUT") return "connection timeout";
    if (code === "UND_ERR_SOCKET") return "connection closed";
    if (code.startsWith("E")) return `connection ${code}`;
    return `client ${code}`;
  }
  return `client ${error instanceof Error ? error.name : "error"}`;
}

/**
 * The kind of an error response: its status and, when the body is SPEC §2's JSON, its `error` code.
 */
export function statusKindOf(statusCode: number, body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const code =
      typeof parsed === "object" && parsed !== null
        ? (parsed as { error?: unknown }).error
        : undefined;
    if (typeof code === "string" && /^[a-z_]{1,40}$/.test(code)) return `${statusCode} ${code}`;
  } catch {
    // Not JSON: the status alone names it.
  }
  return String(statusCode);
}

/** One request's callbacks; resolves its promise exactly once. */
class OutcomeHandler implements Dispatcher.DispatchHandler {
  #statusCode = 0;
  #errorBody: Buffer[] | null = null;
  #errorBodyBytes = 0;
  #settled = false;

  constructor(
    private readonly successStatus: number,
    private readonly resolve: (outcome: RequestOutcome) => void,
  ) {}

  #settle(outcome: RequestOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.resolve(outcome);
  }

  onConnect(): void {}

  onHeaders(statusCode: number): boolean {
    this.#statusCode = statusCode;
    if (statusCode !== this.successStatus && statusCode >= 200) this.#errorBody = [];
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#errorBody !== null && this.#errorBodyBytes < KV_CLIENT_LIMITS.errorBodyBytesMax) {
      this.#errorBody.push(chunk);
      this.#errorBodyBytes += chunk.length;
    }
    return true;
  }

  onComplete(): void {
    if (this.#errorBody === null) {
      this.#settle(null);
      return;
    }
    const body = Buffer.concat(this.#errorBody)
      .subarray(0, KV_CLIENT_LIMITS.errorBodyBytesMax)
      .toString("utf8");
    this.#settle(statusKindOf(this.#statusCode, body));
  }

  onError(error: Error): void {
    this.#settle(errorKindOf(error));
  }
}

const VALUE_HEADERS = { "content-type": "application/octet-stream" } as const;

export class KvClient {
  readonly #pools: Pool[];
  /** The command's token and the not-cross-site marker (cli/token-client.ts), read once. */
  readonly #auth = authHeaders();
  readonly #valueHeaders = { ...VALUE_HEADERS, ...this.#auth };

  constructor(options: KvClientOptions) {
    assert(
      options.urls.length >= 1 && options.urls.length <= KV_CLIENT_LIMITS.nodesMax,
      "1 to 64 node URLs",
    );
    assert(
      options.connectionsPerNode >= 1 &&
        options.connectionsPerNode <= KV_CLIENT_LIMITS.connectionsPerNodeMax,
      () => `connections per node out of range: ${options.connectionsPerNode}`,
    );
    this.#pools = options.urls.map(
      (url) =>
        new Pool(url, {
          connections: options.connectionsPerNode,
          pipelining: 1,
          headersTimeout: options.requestTimeoutMs,
          bodyTimeout: options.requestTimeoutMs,
          connectTimeout: options.requestTimeoutMs,
          connect: tlsConnect(),
          // Longer than the run's pauses (the gap between load and run phases) so warm connections
          // stay.
          keepAliveTimeout: 30_000,
        }),
    );
  }

  get nodeCount(): number {
    return this.#pools.length;
  }

  /** `PUT /kv/<key>?w=<w>` with `value` as the body; success is 204. */
  put(node: number, path: string, value: Buffer): Promise<RequestOutcome> {
    return this.#send(node, { method: "PUT", path, body: value, headers: this.#valueHeaders }, 204);
  }

  /** `GET /kv/<key>?r=<r>`; success is 200 (a 404 is the failure `404 not_found`). */
  get(node: number, path: string): Promise<RequestOutcome> {
    return this.#send(node, { method: "GET", path, headers: this.#auth }, 200);
  }

  #send(
    node: number,
    request: Dispatcher.DispatchOptions,
    successStatus: number,
  ): Promise<RequestOutcome> {
    const pool = this.#pools[node];
    assert(pool !== undefined, () => `no node ${node}`);
    return new Promise<RequestOutcome>((resolve) => {
      const handler = new OutcomeHandler(successStatus, resolve);
      try {
        pool.dispatch(request, handler);
      } catch (error) {
        // OutcomeHandler implements undici's legacy handler interface, which undici 7 still drives.
        // eslint-disable-next-line @typescript-eslint/no-deprecated
        handler.onError(error as Error);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}

/** `/kv/<key>?w=<level>`: the path of a write of `key` (percent-encoded) at consistency `level`. */
export function writePath(key: string, level: string): string {
  return `/kv/${encodeURIComponent(key)}?w=${encodeURIComponent(level)}`;
}

export function readPath(key: string, level: string): string {
  return `/kv/${encodeURIComponent(key)}?r=${encodeURIComponent(level)}`;
}
