// The node's HTTP edge over real sockets (issue 14 §3): every error answer, including the ones
// fastify and Node give before a route runs, carries the SPEC §2 body; a stalled body is answered
// 408 within the configured timeout; a method a path does not take is 405 with Allow; /ready says
// whether the node serves clients. One in-process node (real engine, no seeds: it serves at once)
// with a 1 s request timeout.

import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNodeConfig } from "../../../src/node/config.js";
import { createLogger } from "../../../src/node/logger.js";
import { startNode, type GrapevineNode } from "../../../src/node/node.js";
import { freePort } from "../../support/ports.js";

const REQUEST_TIMEOUT_MS = 1_000;
const CHECK_INTERVAL_MS = 100;
const MAX_VALUE_BYTES = 1_000;

let root: string;
let node: GrapevineNode;
let port: number;
let clockInRange = true;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "grapevine-http-edge-"));
  port = await freePort();
  const config = parseNodeConfig(
    {
      id: "edge",
      listen: `127.0.0.1:${port}`,
      "data-dir": path.join(root, "edge"),
      "log-level": "error",
      "max-value-bytes": String(MAX_VALUE_BYTES),
      "anti-entropy-interval-s": "off",
    },
    {},
  );
  node = await startNode(config, {
    logger: createLogger({ level: "error", destination: { write: () => undefined } }),
    httpLimits: { requestTimeoutMs: REQUEST_TIMEOUT_MS, timeoutCheckIntervalMs: CHECK_INTERVAL_MS },
    clockInRange: () => clockInRange,
  });
});

afterAll(async () => {
  await node?.stop();
  await rm(root, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function send(
  method: string,
  urlPath: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const response = await request(`http://127.0.0.1:${port}${urlPath}`, {
    method: method as "GET",
    headers: options.headers,
    body: options.body,
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.body.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the assertions on `text` will say so.
  }
  return { status: response.statusCode, headers: response.headers, body, text };
}

interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: Record<string, unknown>;
  readonly text: string;
  /** From the first byte written to the connection's close. */
  readonly elapsedMs: number;
}

/** Writes bytes as they are (no HTTP client would send them) and reads until the server closes. */
function raw(bytes: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const startedMs = Date.now();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match === null || split < 0) {
        reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 300))}`));
        return;
      }
      const bodyText = text.slice(split + 4);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(bodyText) as Record<string, unknown>;
      } catch {
        // Checked by the caller through `text`.
      }
      resolve({
        status: Number(match[1]),
        head: text.slice(0, split),
        body,
        text: bodyText,
        elapsedMs: Date.now() - startedMs,
      });
    });
    socket.write(bytes);
  });
}

/**
 * The SPEC §2 shape, and nothing of fastify's own: no FST_ERR_* code anywhere, no statusCode field.
 */
function expectErrorBody(text: string, body: Record<string, unknown>, code: string): void {
  expect(body).toMatchObject({ error: code });
  expect(typeof body["message"]).toBe("string");
  expect(body).not.toHaveProperty("statusCode");
  expect(text).not.toMatch(/FST_|HPE_|ERR_HTTP/);
}

describe("fastify's own refusals carry the SPEC §2 body", () => {
  it("answers a malformed JSON body with 400 bad_request, without fastify's code", async () => {
    const answer = await send("POST", "/admin/repair", {
      headers: { "content-type": "application/json" },
      body: '{"dryRun":',
    });
    expect(answer.status).toBe(400);
    expectErrorBody(answer.text, answer.body, "bad_request");
  });

  it("answers a Content-Type the route does not parse with 400 bad_request naming the type", async () => {
    const answer = await send("POST", "/admin/repair", {
      headers: { "content-type": "application/xml" },
      body: "<dryRun/>",
    });
    expect(answer.status).toBe(400);
    expectErrorBody(answer.text, answer.body, "bad_request");
    expect(answer.body["message"]).toContain("application/xml");
  });

  it("answers a value over --max-value-bytes with 413 value_too_large whose message states the limit", async () => {
    const answer = await send("PUT", "/kv/big", { body: Buffer.alloc(MAX_VALUE_BYTES + 1) });
    expect(answer.status).toBe(413);
    expectErrorBody(answer.text, answer.body, "value_too_large");
    expect(answer.body["message"]).toContain(String(MAX_VALUE_BYTES));
  });
});

describe("a method a path does not take", () => {
  it("is 405 method_not_allowed with an Allow header, not 404: PATCH /kv/x, POST /health, OPTIONS /kv/x", async () => {
    const patch = await send("PATCH", "/kv/x", { body: "v" });
    expect(patch.status).toBe(405);
    expectErrorBody(patch.text, patch.body, "method_not_allowed");
    expect(patch.headers["allow"]).toBe("DELETE, GET, HEAD, PUT");

    const post = await send("POST", "/health");
    expect(post.status).toBe(405);
    expectErrorBody(post.text, post.body, "method_not_allowed");
    expect(post.headers["allow"]).toBe("GET, HEAD");

    const options = await send("OPTIONS", "/kv/x");
    expect(options.status).toBe(405);
    expect(options.headers["allow"]).toBe("DELETE, GET, HEAD, PUT");
  });

  it("leaves a path no route matches at 404 not_found", async () => {
    const answer = await send("PATCH", "/nowhere");
    expect(answer.status).toBe(404);
    expectErrorBody(answer.text, answer.body, "not_found");
  });
});

describe("what Node refuses before fastify sees a request", () => {
  it("answers a request line it cannot parse with 400 bad_request and closes", async () => {
    const answer = await raw("GARBAGE REQUEST LINE\r\n\r\n");
    expect(answer.status).toBe(400);
    expect(answer.head).toMatch(/^content-type: application\/json/im);
    expect(answer.head).toMatch(/^connection: close/im);
    expectErrorBody(answer.text, answer.body, "bad_request");
  });

  it("answers an HTTP/1.1 request without Host with 400 bad_request, and an unmet Expect with 417 expectation_failed", async () => {
    const noHost = await raw("GET /health HTTP/1.1\r\n\r\n");
    expect(noHost.status).toBe(400);
    expectErrorBody(noHost.text, noHost.body, "bad_request");
    expect(noHost.body["message"]).toContain("Host");

    const expectation = await raw(
      "PUT /kv/e?w=one HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx",
    );
    expect(expectation.status).toBe(417);
    expectErrorBody(expectation.text, expectation.body, "expectation_failed");
  });

  it("answers headers over the limit with 431 headers_too_large stating the limit", async () => {
    const answer = await raw(
      `GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(answer.status).toBe(431);
    expectErrorBody(answer.text, answer.body, "headers_too_large");
    expect(answer.body["message"]).toContain("16384");
  });

  it("answers a body that stops arriving with 408 request_timeout within the configured timeout", async () => {
    const answer = await raw(
      "PUT /kv/stalled HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789",
      20_000,
    );
    expect(answer.status).toBe(408);
    expect(answer.head).toMatch(/^connection: close/im);
    expectErrorBody(answer.text, answer.body, "request_timeout");
    expect(answer.body["message"]).toContain(String(REQUEST_TIMEOUT_MS));
    // Not before the timeout; and well before Node's old 60 s floor (generous: slow machines).
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(answer.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 5_000);
  }, 30_000);
});

describe("/ready", () => {
  it("answers 200 while the node serves, and 503 clock_offset while its clock is out of range; /health stays 200", async () => {
    const ready = await send("GET", "/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready" });

    clockInRange = false;
    try {
      const offset = await send("GET", "/ready");
      expect(offset.status).toBe(503);
      expectErrorBody(offset.text, offset.body, "unavailable");
      expect(offset.body["reason"]).toBe("clock_offset");
      expect((await send("GET", "/health")).status).toBe(200);
    } finally {
      clockInRange = true;
    }
  });
});
