// client/undici-transport.ts — the client library's network edge: one undici Pool of keep-alive
// connections per node, one request per connection at a time (no pipelining: a request stuck
// behind another on the same socket would be charged the other's time).
//
// It classifies what went wrong for the retry policy: a refused connection, a connect timeout and
// an unknown host certainly never sent the request (`sent: false`); anything after the connection
// was up (a reset, silence past the attempt's time) may have delivered it.

import { Pool } from "undici";
import { VALUE_BYTES_MAX } from "../core/limits.js";
import type { ClientTlsOptions } from "./options.js";
import type { ClientTransport, TransportRequest, TransportResult } from "./transport.js";

export const UNDICI_TRANSPORT_LIMITS = {
  /** The largest value any node serves (--max-value-bytes at most 64 MiB), plus room. */
  answerBytesMax: VALUE_BYTES_MAX + 1024,
  /** Error bodies are small JSON. */
  errorBodyBytesMax: 64 * 1024,
  /** Idle connections are closed after this unless the node's Keep-Alive hint says sooner. */
  keepAliveMs: 30_000,
} as const;

/** Socket errors that happen before a request is written: the node never saw it. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function codeOf(error: unknown): string {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === "string") return own;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === "string" ? cause : error instanceof Error ? error.name : "unknown";
}

export interface UndiciTransportOptions {
  readonly connectionsPerNode: number;
  /** Time to establish a connection. */
  readonly connectTimeoutMs: number;
  /** For https:// nodes: the CA to verify them by and, for mutual TLS, a client certificate. */
  readonly tls?: ClientTlsOptions | undefined;
  /** A bearer token for every request (issue 18 §3). */
  readonly token?: string | undefined;
}

/**
 * Sent with every request: a browser's cross-site request cannot carry it, so a node knows a
 * certificate-authenticated change came from a program (security/route-access.ts REQUEST_HEADER).
 */
const REQUEST_HEADER = "x-grapevine-request";

export class UndiciTransport implements ClientTransport {
  readonly #pools = new Map<string, Pool>();

  constructor(private readonly options: UndiciTransportOptions) {}

  #pool(baseUrl: string): Pool {
    let pool = this.#pools.get(baseUrl);
    if (pool === undefined) {
      pool = new Pool(baseUrl, {
        connections: this.options.connectionsPerNode,
        pipelining: 1,
        connectTimeout: this.options.connectTimeoutMs,
        keepAliveTimeout: UNDICI_TRANSPORT_LIMITS.keepAliveMs,
        ...(this.options.tls === undefined ? {} : { connect: { ...this.options.tls } }),
      });
      this.#pools.set(baseUrl, pool);
    }
    return pool;
  }

  async send(baseUrl: string, request: TransportRequest): Promise<TransportResult> {
    const headers: Record<string, string> = { [REQUEST_HEADER]: "grapevine-client" };
    if (this.options.token !== undefined) headers["authorization"] = `Bearer ${this.options.token}`;
    if (request.body !== undefined)
      headers["content-type"] = request.contentType ?? "application/octet-stream";
    if (request.ttlSeconds !== undefined) headers["x-grapevine-ttl"] = String(request.ttlSeconds);
    try {
      const response = await this.#pool(baseUrl).request({
        method: request.method,
        path: request.path,
        headers,
        body: request.body,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const max =
        response.statusCode < 300
          ? UNDICI_TRANSPORT_LIMITS.answerBytesMax
          : UNDICI_TRANSPORT_LIMITS.errorBodyBytesMax;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > max) {
          response.body.destroy();
          const detail = `${baseUrl} sent more than ${max} bytes`;
          return { ok: false, failure: { kind: "bad_answer", sent: true, detail } };
        }
        chunks.push(buffer);
      }
      const header = (name: string): string | undefined => {
        const value = response.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      return {
        ok: true,
        answer: {
          status: response.statusCode,
          contentType: header("content-type"),
          timestamp: header("x-grapevine-timestamp"),
          ttl: header("x-grapevine-ttl"),
          body: Buffer.concat(chunks, size),
        },
      };
    } catch (error) {
      const code = codeOf(error);
      const sent = !NOT_SENT_CODES.has(code);
      return {
        ok: false,
        failure: { kind: sent ? "no_answer" : "unreachable", sent, detail: code },
      };
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}
