// cli/kv-client.ts — what `grapevine put`, `get` and `del` share: one request to a node's client
// API (SPEC §2) with a deadline, the key and level checks done before anything is sent (a bad one
// is a usage error, exit 2), and the one-line description of a refusal (exit 1).
//
// Keys are percent-encoded with encodeURIComponent, which encodes everything but unreserved ASCII
// (so `/`, `%`, spaces and any non-ASCII character travel as the API expects). Values are bytes:
// put sends them raw with --content-type (application/octet-stream by default), get writes the
// value's raw bytes to stdout, unchanged.

import type { Command } from "commander";
import { Agent, request } from "undici";
import { VALUE_BYTES_MAX } from "../core/limits.js";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { ConsistencyError, parseConsistency } from "../replication/consistency.js";
import { BUCKET_KEY_LIMITS } from "../storage/bucket-keys.js";
import { CliError, EXIT_CODES, isTerminal } from "./shared.js";
import { tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";

export const KV_CLIENT_LIMITS = {
  /**
   * The whole request. A node answers within its --request-timeout-ms (2 s by default); this leaves
   * room for a slow value upload and a node configured with a longer deadline.
   */
  requestTimeoutMs: 30_000,
  /** The largest value any node accepts (--max-value-bytes at most 64 MiB), plus room. */
  valueBytesMax: VALUE_BYTES_MAX + 1024,
  /** Error bodies are small JSON; more is not a node's answer. */
  errorBodyBytesMax: 64 * 1024,
} as const;

export const KV_CLIENT_DEFAULTS = {
  /** Bytes in, bytes out: without --content-type a value is opaque. */
  contentType: "application/octet-stream",
} as const;

/**
 * Where put/get read and write bytes; injectable so the commands can be tested without a process.
 */
export interface KvIo {
  /** All of stdin, refusing more than `max` bytes. */
  readStdin(max: number): Promise<Buffer>;
  /** Raw bytes to stdout. */
  writeStdout(bytes: Uint8Array): void;
  /**
   * Whether stdout is a terminal (a person reading), not a pipe or file (a program reading bytes).
   */
  stdoutIsTerminal(): boolean;
}

export const processKvIo: KvIo = {
  async readStdin(max) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > max)
        throw new CliError(`the value on stdin is larger than ${max} bytes`, EXIT_CODES.failed);
      chunks.push(buffer);
    }
    return Buffer.concat(chunks, size);
  },
  writeStdout(bytes) {
    process.stdout.write(bytes);
  },
  stdoutIsTerminal() {
    return isTerminal(process.stdout);
  },
};

/** The options put/get/del share. */
export interface KvCommandOptions {
  readonly node?: string;
}

export function addNodeOption(command: Command): Command {
  return command.option(
    "--node <url>",
    "the node to ask (default: GRAPEVINE_NODE or http://127.0.0.1:7001)",
  );
}

export function nodeUrlOf(options: KvCommandOptions): string {
  return resolveNodeUrl(options.node, processEnvironment());
}

/** A key the API would refuse is a usage error here, before anything is sent. */
export function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes < 1 || bytes > BUCKET_KEY_LIMITS.userKeyBytesMax) {
    throw new CliError(
      `KEY must be 1 to ${BUCKET_KEY_LIMITS.userKeyBytesMax} bytes of UTF-8, got ${bytes}`,
      EXIT_CODES.usage,
    );
  }
}

/**
 * `--w`/`--r`: one, quorum, all or a count; the node checks the count against its replication
 * factor.
 */
export function checkLevel(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return String(parseConsistency(text));
  } catch (error) {
    if (error instanceof ConsistencyError)
      throw new CliError(`${flag}: ${error.message}`, EXIT_CODES.usage);
    throw error;
  }
}

export interface KvRequest {
  readonly nodeUrl: string;
  readonly method: "PUT" | "GET" | "DELETE";
  readonly key: string;
  /** `w` or `r`, when given. */
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: Uint8Array;
  readonly contentType?: string;
  /** X-Grapevine-TTL of a put (api/ttl-header.ts), when given. */
  readonly ttlSeconds?: number;
}

export interface KvAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly timestamp: string | undefined;
  readonly body: Buffer;
}

export function kvUrl(
  nodeUrl: string,
  key: string,
  query: Readonly<Record<string, string | undefined>> = {},
): string {
  const params = Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`);
  return `${nodeUrl}/kv/${encodeURIComponent(key)}${params.length > 0 ? `?${params.join("&")}` : ""}`;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Sends one request; a CliError (exit 1) with one line when the node cannot be asked. */
export async function kvRequest(options: KvRequest): Promise<KvAnswer> {
  const timeoutMs = KV_CLIENT_LIMITS.requestTimeoutMs;
  const agent = new Agent({
    connect: { timeout: timeoutMs, ...tlsConnect() },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  try {
    const headers: Record<string, string> = authHeaders();
    if (options.body !== undefined)
      headers["content-type"] = options.contentType ?? KV_CLIENT_DEFAULTS.contentType;
    if (options.ttlSeconds !== undefined) headers["x-grapevine-ttl"] = String(options.ttlSeconds);
    const response = await request(kvUrl(options.nodeUrl, options.key, options.query), {
      method: options.method,
      headers,
      body: options.body,
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const max =
      response.statusCode === 200
        ? KV_CLIENT_LIMITS.valueBytesMax
        : KV_CLIENT_LIMITS.errorBodyBytesMax;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > max) throw new CliError(`${options.nodeUrl} sent more than ${max} bytes`);
      chunks.push(buffer);
    }
    return {
      status: response.statusCode,
      contentType: header(response.headers["content-type"]),
      timestamp: header(response.headers["x-grapevine-timestamp"]),
      body: Buffer.concat(chunks, size),
    };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot reach ${options.nodeUrl}: ${describeRequestError(error)}`);
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/**
 * One line for a node's error answer: `503 unavailable: consistency quorum needs 2 live replicas, 1
 * alive`.
 */
export function describeRefusal(answer: KvAnswer): string {
  try {
    const body = JSON.parse(answer.body.toString("utf8")) as { error?: unknown; message?: unknown };
    if (typeof body.error === "string") {
      return `${answer.status} ${body.error}${typeof body.message === "string" ? `: ${body.message}` : ""}`;
    }
  } catch {
    // Not a JSON error body.
  }
  return `${answer.status} ${answer.body.toString("utf8", 0, Math.min(answer.body.length, 200))}`;
}

function describeRequestError(error: unknown): string {
  const code =
    (error as { code?: unknown } | null)?.code ??
    (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host";
  if (
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
  ) {
    return `no answer within ${KV_CLIENT_LIMITS.requestTimeoutMs} ms`;
  }
  return error instanceof Error ? error.message : String(error);
}
