// cli/ring-change-client.ts — what `grapevine decommission` and `grapevine removenode` share: start
// the change on a node (POST /admin/...), then follow it until it ends, printing the progress of
// its range streams (GET /cluster/status `streams` and `change`) as it goes.

import { Agent, request } from "undici";
import { tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";
import { CliError, humanBytes, jsonOrNull, type CliOutput } from "./shared.js";

export const RING_CHANGE_CLIENT_LIMITS = {
  /** One request's deadline. */
  requestTimeoutMs: 10_000,
  /** How often progress is polled and printed. */
  pollIntervalMs: 1_000,
  /** How long a change may run before the command gives up following it (the change goes on). */
  followTimeoutMs: 6 * 3600_000,
  bodyBytesMax: 16 * 1024 * 1024,
} as const;

export interface ChangeBody {
  readonly kind: string;
  readonly id: string;
  readonly state: "running" | "done" | "failed";
  readonly error: string | null;
  readonly keys: number;
  readonly bytes: number;
  readonly seconds: number | null;
}

export interface StreamBody {
  readonly id: number;
  readonly change: string;
  readonly state: string;
  readonly keys: number;
  readonly bytes: number;
  readonly progress: number;
  readonly source: string | null;
  readonly target: string;
  readonly sourceChanges: number;
}

export interface Answer {
  readonly status: number;
  readonly json: unknown;
}

export class Unreachable extends Error {
  override readonly name = "Unreachable";
}

/**
 * One request to a node: over TLS with the command's client certificate when --certs-dir is given,
 * with its token, within a deadline, the answer bounded in size. Unreachable when no answer came.
 */
export async function call(
  nodeUrl: string,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: object,
): Promise<Answer> {
  const agent = new Agent({
    connect: { timeout: RING_CHANGE_CLIENT_LIMITS.requestTimeoutMs, ...tlsConnect() },
  });
  try {
    let response;
    try {
      response = await request(`${nodeUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: {
          ...authHeaders(),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(RING_CHANGE_CLIENT_LIMITS.requestTimeoutMs),
      });
    } catch (error) {
      throw new Unreachable(
        `cannot reach ${nodeUrl}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > RING_CHANGE_CLIENT_LIMITS.bodyBytesMax)
        throw new CliError(`${nodeUrl}${path} sent too much`);
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    return { status: response.statusCode, json: jsonOrNull(text) };
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** The error body's message, for a one-line failure. */
export function refusal(answer: Answer): string {
  const body = answer.json as { error?: unknown; message?: unknown } | null;
  if (body !== null && typeof body === "object" && typeof body.message === "string") {
    return `${body.message}${typeof body.error === "string" ? ` (${body.error})` : ""}`;
  }
  return `status ${answer.status}`;
}

export function parseChange(value: unknown): ChangeBody | null {
  const change = (value as { change?: unknown } | null)?.change as
    Record<string, unknown> | null | undefined;
  if (change === null || change === undefined || typeof change !== "object") return null;
  if (typeof change["kind"] !== "string" || typeof change["id"] !== "string") return null;
  if (change["state"] !== "running" && change["state"] !== "done" && change["state"] !== "failed")
    return null;
  return {
    kind: change["kind"],
    id: change["id"],
    state: change["state"],
    error: typeof change["error"] === "string" ? change["error"] : null,
    keys: typeof change["keys"] === "number" ? change["keys"] : 0,
    bytes: typeof change["bytes"] === "number" ? change["bytes"] : 0,
    seconds: typeof change["seconds"] === "number" ? change["seconds"] : null,
  };
}

export function parseStreams(value: unknown): StreamBody[] {
  const streams = (value as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams)) return [];
  return streams.filter((stream): stream is StreamBody => {
    const s = stream as Record<string, unknown> | null;
    return (
      s !== null &&
      typeof s === "object" &&
      typeof s["change"] === "string" &&
      typeof s["state"] === "string" &&
      typeof s["keys"] === "number" &&
      typeof s["bytes"] === "number" &&
      typeof s["progress"] === "number" &&
      typeof s["target"] === "string"
    );
  });
}

/** One progress line: streams done of all, keys and bytes so far. */
export function progressLine(label: string, streams: readonly StreamBody[]): string {
  const mine = streams.filter((stream) => stream.change === label);
  const done = mine.filter((stream) => stream.state === "done").length;
  const keys = mine.reduce((sum, stream) => sum + stream.keys, 0);
  const bytes = mine.reduce((sum, stream) => sum + stream.bytes, 0);
  const retrying = mine.filter((stream) => stream.state === "retrying").length;
  return `${label}: ${done}/${mine.length} streams done, ${keys.toLocaleString("en-US")} keys, ${humanBytes(bytes)}${retrying > 0 ? `, ${retrying} retrying` : ""}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Follows the change `label` on the node until it is done (resolves) or failed (CliError). When the
 * node stops answering, `gone()` decides: a decommissioned node exits once it has left.
 */
export async function follow(
  nodeUrl: string,
  label: string,
  output: CliOutput,
  gone: () => Promise<boolean>,
): Promise<ChangeBody | null> {
  const deadline = Date.now() + RING_CHANGE_CLIENT_LIMITS.followTimeoutMs;
  let lastLine = "";
  while (Date.now() < deadline) {
    let answer: Answer;
    try {
      answer = await call(nodeUrl, "GET", "/cluster/status");
    } catch (error) {
      if (error instanceof Unreachable && (await gone())) return null;
      throw error;
    }
    const change = parseChange(answer.json);
    const line = progressLine(label, parseStreams(answer.json));
    if (line !== lastLine) {
      output.err(`${line}\n`);
      lastLine = line;
    }
    if (change !== null && `${change.kind} ${change.id}` === label) {
      if (change.state === "failed")
        throw new CliError(`${label} failed: ${change.error ?? "unknown error"}`);
      if (change.state === "done") return change;
    }
    await sleep(RING_CHANGE_CLIENT_LIMITS.pollIntervalMs);
  }
  throw new CliError(
    `${label} still running after ${RING_CHANGE_CLIENT_LIMITS.followTimeoutMs} ms; it goes on in the background`,
  );
}
