// The client API's edge (SPEC §2) with fastify's inject and a fake coordinator: keys as clients
// encode them, consistency levels, raw values of any content type, limits, and the error bodies.

import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { GrapevineError } from "../../../src/core/errors.js";
import {
  DEFAULT_CONTENT_TYPE,
  frameworkErrorHandler,
  keyFromUrl,
  kvRoutes,
  type KvRoute,
} from "../../../src/api/kv-routes.js";
import { TIMESTAMP_HEADER } from "../../../src/api/kv-schemas.js";
import type { ConsistencyLevel } from "../../../src/replication/consistency.js";
import {
  type DeleteRequest,
  type ReadOutcome,
  type ReadRequest,
  type WriteOutcome,
  type WriteRequest,
} from "../../../src/replication/coordinator.js";
import { tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";

const MAX_VALUE_BYTES = 1_000;
const PROPERTY_SEED = 20_250_303;

/** Stores what it is given; a test can make the next call fail. */
class FakeCoordinator {
  readonly records = new Map<string, StoredRecord>();
  readonly calls: { kind: string; key: string; level: ConsistencyLevel }[] = [];
  nextFailure: Error | null = null;
  clock = 1_000_000;

  async write(request: WriteRequest): Promise<WriteOutcome> {
    this.calls.push({ kind: "write", key: request.key, level: request.level });
    this.#failIfAsked();
    const timestampUs = ++this.clock;
    this.records.set(request.key, {
      value: Buffer.from(request.value),
      contentType: request.contentType,
      timestampUs,
      writer: "fake",
      tombstone: false,
    });
    return { timestampUs, acknowledged: 2 };
  }

  async delete(request: DeleteRequest): Promise<WriteOutcome> {
    this.calls.push({ kind: "delete", key: request.key, level: request.level });
    this.#failIfAsked();
    const timestampUs = ++this.clock;
    this.records.set(request.key, tombstoneRecord(timestampUs, "fake"));
    return { timestampUs, acknowledged: 2 };
  }

  async read(request: ReadRequest): Promise<ReadOutcome> {
    this.calls.push({ kind: "read", key: request.key, level: request.level });
    this.#failIfAsked();
    return { record: this.records.get(request.key), stale: [], answered: 2 };
  }

  #failIfAsked(): void {
    const failure = this.nextFailure;
    this.nextFailure = null;
    if (failure !== null) throw failure;
  }
}

const observed: { route: KvRoute; consistency: string; status: number }[] = [];
const apps: FastifyInstance[] = [];

afterEach(async () => {
  observed.length = 0;
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function build(): Promise<{ app: FastifyInstance; coordinator: FakeCoordinator }> {
  const coordinator = new FakeCoordinator();
  // The node's root options that matter to the routes.
  const app = Fastify({ frameworkErrors: frameworkErrorHandler });
  apps.push(app);
  registerErrorHandling(app);
  await app.register(kvRoutes, {
    coordinator,
    replicationFactor: 3,
    readConsistency: "one",
    writeConsistency: "quorum",
    maxValueBytes: MAX_VALUE_BYTES,
    nowUs: () => coordinator.clock,
    observer: {
      observeKvRequest: (route, consistency, status) =>
        observed.push({ route, consistency, status }),
    },
  });
  await app.ready();
  return { app, coordinator };
}

function errorOf(body: string): { error: string; message: string; [detail: string]: unknown } {
  return JSON.parse(body) as { error: string; message: string };
}

describe("PUT, GET and DELETE /kv/:key", () => {
  it("stores the body's raw bytes with its content type and gives both back with the version's timestamp", async () => {
    const { app } = await build();
    const value = Buffer.from([0, 255, 1, 254, 0x7b]);
    const put = await app.inject({
      method: "PUT",
      url: "/kv/bin",
      payload: value,
      headers: { "content-type": "image/x-test" },
    });
    expect(put.statusCode).toBe(204);
    const written = put.headers[TIMESTAMP_HEADER];
    expect(written).toMatch(/^\d+$/);
    const get = await app.inject({ method: "GET", url: "/kv/bin" });
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload.equals(value)).toBe(true);
    expect(get.headers["content-type"]).toBe("image/x-test");
    expect(get.headers[TIMESTAMP_HEADER]).toBe(written);
  });

  it("keeps a JSON or text body unparsed, byte for byte, even when it is not valid JSON", async () => {
    const { app } = await build();
    const body = '{"unterminated": ';
    await app.inject({
      method: "PUT",
      url: "/kv/j",
      payload: body,
      headers: { "content-type": "application/json" },
    });
    const get = await app.inject({ method: "GET", url: "/kv/j" });
    expect(get.body).toBe(body);
    expect(get.headers["content-type"]).toBe("application/json");
  });

  it("stores application/octet-stream when the request names no content type, and accepts an empty value", async () => {
    const { app, coordinator } = await build();
    const put = await app.inject({ method: "PUT", url: "/kv/empty" });
    expect(put.statusCode).toBe(204);
    expect(coordinator.records.get("empty")?.contentType).toBe(DEFAULT_CONTENT_TYPE);
    const get = await app.inject({ method: "GET", url: "/kv/empty" });
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload.length).toBe(0);
  });

  it("answers 404 not_found for an absent key and for a deleted one, and DELETE carries the tombstone's timestamp", async () => {
    const { app } = await build();
    const absent = await app.inject({ method: "GET", url: "/kv/nothing" });
    expect(absent.statusCode).toBe(404);
    expect(errorOf(absent.body).error).toBe("not_found");
    await app.inject({ method: "PUT", url: "/kv/gone", payload: "x" });
    const deleted = await app.inject({ method: "DELETE", url: "/kv/gone" });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.headers[TIMESTAMP_HEADER]).toMatch(/^\d+$/);
    const get = await app.inject({ method: "GET", url: "/kv/gone" });
    expect(get.statusCode).toBe(404);
    expect(errorOf(get.body).error).toBe("not_found");
  });
});

describe("keys", () => {
  const cases: [string, string][] = [
    ["a%2Fb", "a/b"],
    ["100%25", "100%"],
    ["with%20space", "with space"],
    ["%F0%9F%8D%87", "🍇"],
    ["caf%C3%A9", "café"],
    ["plain-key_1.2~x", "plain-key_1.2~x"],
    ["a+b", "a+b"],
  ];
  for (const [encoded, key] of cases) {
    it(`takes /kv/${encoded} as the key ${JSON.stringify(key)}`, async () => {
      const { app, coordinator } = await build();
      const put = await app.inject({ method: "PUT", url: `/kv/${encoded}`, payload: "v" });
      expect(put.statusCode).toBe(204);
      expect([...coordinator.records.keys()]).toEqual([key]);
      const get = await app.inject({ method: "GET", url: `/kv/${encodeURIComponent(key)}` });
      expect(get.statusCode).toBe(200);
    });
  }

  it("accepts a 1024-byte key and refuses a 1025-byte one with 400 bad_key", async () => {
    const { app } = await build();
    const longest = "é".repeat(512); // 1024 bytes of UTF-8
    const ok = await app.inject({
      method: "PUT",
      url: `/kv/${encodeURIComponent(longest)}`,
      payload: "v",
    });
    expect(ok.statusCode).toBe(204);
    const tooLong = await app.inject({
      method: "PUT",
      url: `/kv/${"k".repeat(1025)}`,
      payload: "v",
    });
    expect(tooLong.statusCode).toBe(400);
    expect(errorOf(tooLong.body)).toMatchObject({ error: "bad_key", bytes: 1025 });
  });

  const refused: [string, string][] = [
    ["/kv/", "an empty key"],
    ["/kv/a/b", "an unencoded slash"],
    ["/kv/%E0%A4%A", "truncated percent-encoding"],
    ["/kv/%ZZ", "a bad escape"],
    ["/kv/%ED%A0%80", "an encoded lone surrogate"],
    ["/kv/%C3", "a truncated UTF-8 sequence"],
  ];
  for (const [url, what] of refused) {
    it(`refuses ${what} (${url}) with 400 bad_key on every method`, async () => {
      const { app, coordinator } = await build();
      for (const method of ["PUT", "GET", "DELETE"] as const) {
        const answer = await app.inject({
          method,
          url,
          payload: method === "PUT" ? "v" : undefined,
        });
        expect(answer.statusCode, method).toBe(400);
        expect(errorOf(answer.body).error, method).toBe("bad_key");
      }
      expect(coordinator.calls).toEqual([]);
    });
  }

  it("keyFromUrl refuses characters outside visible ASCII that were not percent-encoded", () => {
    expect(() => keyFromUrl("/kv/caf\u00e9")).toThrow(/percent-encoded/);
    expect(() => keyFromUrl("/kv/a\u0000b")).toThrow(/percent-encoded/);
    expect(keyFromUrl("/kv/caf%C3%A9?w=one")).toBe("café");
  });

  it("never answers 5xx, whatever a client puts in the key's path segment (property)", async () => {
    const { app } = await build();
    const piece = fc.oneof(
      fc.constantFrom(
        "%",
        "%2F",
        "%25",
        "%ZZ",
        "%ED%A0%80",
        "%F0%9F",
        "%C3%A9",
        "/",
        "+",
        "~",
        ".",
        "..",
        "a",
      ),
      fc.string({ maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 8 }),
        fc.constantFrom("PUT", "GET", "DELETE"),
        async (pieces, method) => {
          const url = `/kv/${pieces.join("")}`;
          let status: number;
          try {
            status = (
              await app.inject({ method: method, url, payload: method === "PUT" ? "v" : undefined })
            ).statusCode;
          } catch {
            return; // light-my-request itself refused the URL: nothing reached the route.
          }
          expect([200, 204, 400, 404]).toContain(status);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });
});

describe("consistency levels", () => {
  it("uses the node's defaults when ?w= and ?r= are absent, and the named level when present", async () => {
    const { app, coordinator } = await build();
    await app.inject({ method: "PUT", url: "/kv/k", payload: "v" });
    await app.inject({ method: "PUT", url: "/kv/k?w=ALL", payload: "v" });
    await app.inject({ method: "DELETE", url: "/kv/k?w=2" });
    await app.inject({ method: "GET", url: "/kv/k" });
    await app.inject({ method: "GET", url: "/kv/k?r=quorum" });
    expect(coordinator.calls.map((call) => `${call.kind} ${call.level}`)).toEqual([
      "write quorum",
      "write all",
      "delete 2",
      "read one",
      "read quorum",
    ]);
  });

  for (const query of ["w=most", "w=4", "w=0", "w=", "w=one&w=all", "w=-1", "w=1.5"]) {
    it(`refuses ?${query} with 400 bad_consistency`, async () => {
      const { app, coordinator } = await build();
      const answer = await app.inject({ method: "PUT", url: `/kv/k?${query}`, payload: "v" });
      expect(answer.statusCode).toBe(400);
      expect(errorOf(answer.body).error).toBe("bad_consistency");
      expect(coordinator.calls).toEqual([]);
    });
  }

  it("refuses a bad ?r= on GET with 400 bad_consistency", async () => {
    const { app } = await build();
    const answer = await app.inject({ method: "GET", url: "/kv/k?r=everyone" });
    expect(answer.statusCode).toBe(400);
    expect(errorOf(answer.body).error).toBe("bad_consistency");
  });
});

describe("limits and refusals", () => {
  it("refuses a value over --max-value-bytes with 413 value_too_large, and accepts one at the limit", async () => {
    const { app, coordinator } = await build();
    const atLimit = await app.inject({
      method: "PUT",
      url: "/kv/k",
      payload: Buffer.alloc(MAX_VALUE_BYTES),
    });
    expect(atLimit.statusCode).toBe(204);
    const over = await app.inject({
      method: "PUT",
      url: "/kv/k2",
      payload: Buffer.alloc(MAX_VALUE_BYTES + 1),
    });
    expect(over.statusCode).toBe(413);
    expect(errorOf(over.body).error).toBe("value_too_large");
    expect(coordinator.records.has("k2")).toBe(false);
  });

  // That the server stops reading a chunked upload at the limit is checked over a real socket in
  // test/cluster/kv-api.test.ts (inject buffers a stream payload before it is "sent").
  it("refuses a streamed body without a Content-Length with 413 once it passes the limit", async () => {
    const { app, coordinator } = await build();
    const body = Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(100, 1)));
    const answer = await app.inject({
      method: "PUT",
      url: "/kv/big",
      payload: body,
      headers: { "content-type": "text/plain" },
    });
    expect(answer.statusCode).toBe(413);
    expect(errorOf(answer.body).error).toBe("value_too_large");
    expect(coordinator.calls).toEqual([]);
  });

  it("refuses a Content-Type longer than a record can hold with 400 bad_request", async () => {
    const { app } = await build();
    const answer = await app.inject({
      method: "PUT",
      url: "/kv/k",
      payload: "v",
      headers: { "content-type": `text/plain; x=${"y".repeat(300)}` },
    });
    expect(answer.statusCode).toBe(400);
    expect(errorOf(answer.body).error).toBe("bad_request");
  });

  it("answers the coordinator's unavailable as 503 and timeout as 504, with their details", async () => {
    const { app, coordinator } = await build();
    coordinator.nextFailure = new GrapevineError("unavailable", "needs 2, 1 alive", {
      required: 2,
      alive: 1,
    });
    const unavailable = await app.inject({ method: "PUT", url: "/kv/k", payload: "v" });
    expect(unavailable.statusCode).toBe(503);
    expect(errorOf(unavailable.body)).toEqual({
      error: "unavailable",
      message: "needs 2, 1 alive",
      required: 2,
      alive: 1,
    });
    coordinator.nextFailure = new GrapevineError("timeout", "1 of 3", {
      required: 3,
      acknowledged: 1,
    });
    const timeout = await app.inject({ method: "GET", url: "/kv/k?r=all" });
    expect(timeout.statusCode).toBe(504);
    expect(errorOf(timeout.body)).toMatchObject({ error: "timeout", required: 3, acknowledged: 1 });
  });

  it("answers a bug in the coordinator as 500 internal without its message", async () => {
    const { app, coordinator } = await build();
    coordinator.nextFailure = new TypeError("secret detail");
    const answer = await app.inject({ method: "GET", url: "/kv/k" });
    expect(answer.statusCode).toBe(500);
    expect(answer.body).not.toContain("secret detail");
  });
});

describe("request metrics", () => {
  it("observes every request with its route, consistency label and status, refusals included", async () => {
    const { app } = await build();
    await app.inject({ method: "PUT", url: "/kv/k?w=all", payload: "v" });
    await app.inject({ method: "GET", url: "/kv/k" });
    await app.inject({ method: "GET", url: "/kv/none?r=2" });
    await app.inject({ method: "DELETE", url: "/kv/k?w=bogus" });
    await app.inject({ method: "PUT", url: "/kv/k", payload: Buffer.alloc(MAX_VALUE_BYTES + 1) });
    expect(observed).toEqual([
      { route: "put", consistency: "all", status: 204 },
      { route: "get", consistency: "one", status: 200 },
      { route: "get", consistency: "2", status: 404 },
      { route: "delete", consistency: "invalid", status: 400 },
      { route: "put", consistency: "quorum", status: 413 },
    ]);
  });
});
