// cli/node-json.ts — one JSON request of an admin command (`token`, `bucket`) to a node: over TLS
// with the command's client certificate when --certs-dir is given, with its token and the
// not-cross-site header (cli/token-client.ts), within a deadline, its answer bounded in size. A
// node that cannot be reached, or that refuses, is a CliError naming it (one line on stderr,
// exit 1).

import { Agent, request } from "undici";
import { CliError, jsonOrNull } from "./shared.js";
import { tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";

export const NODE_JSON_LIMITS = {
  /** One request, connect to last byte. */
  requestTimeoutMs: 10_000,
  /** An admin answer is a few KiB; far more is not one. */
  answerBytesMax: 4 * 1024 * 1024,
} as const;

/** The node's JSON answer to a 2xx; a CliError with the node's message for anything else. */
export async function nodeJson(
  nodeUrl: string,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: object,
): Promise<unknown> {
  const agent = new Agent({
    connect: { timeout: NODE_JSON_LIMITS.requestTimeoutMs, ...tlsConnect() },
  });
  try {
    let response;
    try {
      response = await request(`${nodeUrl}${path}`, {
        method,
        dispatcher: agent,
        signal: AbortSignal.timeout(NODE_JSON_LIMITS.requestTimeoutMs),
        headers: {
          ...authHeaders(),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CliError(`cannot reach ${nodeUrl}: ${(error as Error).message}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > NODE_JSON_LIMITS.answerBytesMax)
        throw new CliError(
          `${nodeUrl}${path} sent more than ${NODE_JSON_LIMITS.answerBytesMax} bytes`,
        );
      chunks.push(chunk as Buffer);
    }
    const json = jsonOrNull(Buffer.concat(chunks).toString("utf8")) as {
      error?: string;
      message?: string;
    } | null;
    if (response.statusCode >= 300)
      throw new CliError(
        `${nodeUrl} refused: ${json?.message ?? `status ${response.statusCode}`} (${json?.error ?? response.statusCode})`,
      );
    return json;
  } finally {
    await agent.close();
  }
}
