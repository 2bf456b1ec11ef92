// Small HTTP helpers for tests against real nodes: every request has a deadline.

import net from "node:net";
import { request } from "undici";

export const TEST_HTTP_TIMEOUT_MS = 3_000;

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

export interface RawRequest {
  readonly method?: "GET" | "POST" | "PUT" | "DELETE";
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  readonly timeoutMs?: number;
}

export async function httpRequest(url: string, options: RawRequest = {}): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? TEST_HTTP_TIMEOUT_MS;
  const response = await request(url, {
    method: options.method ?? "GET",
    headers: options.headers,
    body: options.body,
    signal: AbortSignal.timeout(timeoutMs),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await response.body.text();
  const type = response.headers["content-type"];
  return { status: response.statusCode, contentType: Array.isArray(type) ? type[0] : type, text };
}

/** GET and parse JSON; throws on a non-200 answer. */
export async function fetchJson<T>(url: string, timeoutMs = TEST_HTTP_TIMEOUT_MS): Promise<T> {
  const answer = await httpRequest(url, { timeoutMs });
  if (answer.status !== 200)
    throw new Error(`GET ${url} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
  return JSON.parse(answer.text) as T;
}

/**
 * One request over a bare socket, for what an HTTP client will not send: a Content-Length larger
 * than the body that follows (an oversized upload refused before it is read). Write errors are
 * ignored — the server may answer and close before the body is out — and the answer is read until
 * the server closes the connection.
 */
export function rawHttpRequest(options: {
  readonly port: number;
  readonly head: string;
  readonly body?: Buffer;
  readonly timeoutMs?: number;
}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: options.port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no complete answer within ${options.timeoutMs ?? TEST_HTTP_TIMEOUT_MS} ms`),
      );
    }, options.timeoutMs ?? TEST_HTTP_TIMEOUT_MS);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const split = text.indexOf("\r\n\r\n");
      if (match === null || split < 0) {
        reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const head = text.slice(0, split);
      const type = /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim();
      resolve({ status: Number(match[1]), contentType: type, text: text.slice(split + 4) });
    });
    socket.write(options.head.replace(/\r?\n/g, "\r\n").replace(/(\r\n)*$/, "\r\n\r\n"));
    if (options.body !== undefined) socket.write(options.body);
  });
}
