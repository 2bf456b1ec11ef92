// The HTTP server's pure parts (issue 14 §3): how Node's client errors are answered, readiness and
// its reasons, /ready's answers and the drain refusal, with fastify's inject. The same over real
// sockets is test/unit/node/http-edge.test.ts.

import { afterEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import {
  clientErrorAnswer,
  createHttpServer,
  rawErrorResponse,
  type HttpServerLimits,
} from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";
import { GrapevineError } from "../../../src/core/errors.js";
import { readinessOf, readyRoutes, type Readiness } from "../../../src/api/ready-routes.js";

const LIMITS: HttpServerLimits = TEST_HTTP_LIMITS;

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe("clientErrorAnswer", () => {
  it("answers Node's timeout with 408 request_timeout naming the timeout", () => {
    const answer = clientErrorAnswer({ code: "ERR_HTTP_REQUEST_TIMEOUT" }, LIMITS);
    expect(answer?.status).toBe(408);
    expect(answer?.toBody()).toEqual({
      error: "request_timeout",
      message: "the request did not arrive within 30000 ms",
      timeoutMs: 30_000,
    });
  });

  it("answers a header overflow with 431 headers_too_large naming the limit", () => {
    const answer = clientErrorAnswer(
      { code: "HPE_HEADER_OVERFLOW", reason: "Header overflow" },
      LIMITS,
    );
    expect(answer?.status).toBe(431);
    expect(answer?.toBody()).toMatchObject({ error: "headers_too_large", bytesMax: 16_384 });
    expect(answer?.message).toContain("16384");
  });

  it("answers any other parse error with 400 bad_request, with llhttp's reason but not its code", () => {
    const answer = clientErrorAnswer(
      { code: "HPE_INVALID_METHOD", reason: "Invalid method encountered" },
      LIMITS,
    );
    expect(answer?.status).toBe(400);
    expect(answer?.code).toBe("bad_request");
    expect(answer?.message).toBe("the request is not valid HTTP/1.1: Invalid method encountered");
    expect(JSON.stringify(answer?.toBody())).not.toContain("HPE_");
  });

  it("answers nobody when the peer reset the connection", () => {
    expect(clientErrorAnswer({ code: "ECONNRESET" }, LIMITS)).toBeNull();
  });
});

describe("rawErrorResponse", () => {
  it("is a whole HTTP/1.1 response: status line, JSON type, byte length of the body, Connection: close", () => {
    const response = rawErrorResponse(new GrapevineError("bad_request", "é"));
    const [head, body] = response.split("\r\n\r\n") as [string, string];
    expect(head.split("\r\n")).toEqual([
      "HTTP/1.1 400 Bad Request",
      "Content-Type: application/json; charset=utf-8",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Connection: close",
    ]);
    expect(JSON.parse(body)).toEqual({ error: "bad_request", message: "é" });
  });
});

describe("readinessOf", () => {
  it("is ready only when settled, not draining and the clock is in range; draining wins, then starting", () => {
    expect(readinessOf({ draining: false, ringSettled: true, clockInRange: true })).toEqual({
      ready: true,
    });
    expect(readinessOf({ draining: false, ringSettled: false, clockInRange: true })).toEqual({
      ready: false,
      reason: "starting",
    });
    expect(readinessOf({ draining: false, ringSettled: true, clockInRange: false })).toEqual({
      ready: false,
      reason: "clock_offset",
    });
    expect(readinessOf({ draining: true, ringSettled: true, clockInRange: true })).toEqual({
      ready: false,
      reason: "draining",
    });
    expect(readinessOf({ draining: true, ringSettled: false, clockInRange: false })).toEqual({
      ready: false,
      reason: "draining",
    });
    expect(readinessOf({ draining: false, ringSettled: false, clockInRange: false })).toEqual({
      ready: false,
      reason: "starting",
    });
  });
});

async function serverWith(readiness: () => Readiness, draining = false): Promise<FastifyInstance> {
  const app = createHttpServer(LIMITS, { draining: () => draining });
  apps.push(app);
  await app.register(readyRoutes, { readiness });
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/kv/*", async () => "value");
  await app.ready();
  return app;
}

describe("/ready", () => {
  it("answers 200 {status: ready}, or 503 unavailable with the reason", async () => {
    let readiness: Readiness = { ready: false, reason: "starting" };
    const app = await serverWith(() => readiness);
    for (const reason of ["starting", "draining", "clock_offset"] as const) {
      readiness = { ready: false, reason };
      const answer = await app.inject({ method: "GET", url: "/ready" });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual({ error: "unavailable", message: expect.any(String), reason });
      expect(answer.headers["cache-control"]).toBe("no-store");
    }
    readiness = { ready: true };
    const ready = await app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready" });
  });
});

describe("while draining", () => {
  it("refuses every request but the probes with 503 unavailable, reason draining, and Connection: close", async () => {
    const app = await serverWith(() => ({ ready: false, reason: "draining" }), true);
    const refused = await app.inject({ method: "GET", url: "/kv/k" });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toEqual({
      error: "unavailable",
      message: "the node is shutting down",
      reason: "draining",
    });
    expect(refused.headers["connection"]).toBe("close");
    expect((await app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/ready" })).json()).toMatchObject({
      reason: "draining",
    });
  });
});
