// The replica route (net/replica-routes.ts) with fastify's inject and an in-memory store: valid
// operations reach the store, everything malformed is refused with 400 and counted before it does.

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { CLUSTER_SECRET_HEADER } from "../../../src/net/auth.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { REPLICA_PATH, REPLICA_PROTOCOL_LIMITS } from "../../../src/net/replica-protocol.js";
import {
  ReplicaRouteStats,
  replicaRoutes,
  type ReplicaRoutesDeps,
} from "../../../src/net/replica-routes.js";
import {
  compareRecords,
  decodeRecord,
  encodeRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import { StoreOverloadedError, type ApplyResult } from "../../../src/storage/store.js";

class MemoryStore {
  readonly records = new Map<string, StoredRecord>();
  applies = 0;
  overloaded = false;
  async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
    this.applies++;
    if (this.overloaded)
      throw new StoreOverloadedError("queuedWritesMax", "the store's write queue is full");
    for (const { key, record } of writes) {
      const current = this.records.get(key);
      if (current === undefined || compareRecords(record, current) > 0)
        this.records.set(key, record);
    }
    return { written: writes.length, superseded: 0 };
  }
  async get(key: string): Promise<StoredRecord | undefined> {
    return this.records.get(key);
  }
}

function record(timestampUs: number, value = "v"): StoredRecord {
  return {
    value: Buffer.from(value),
    contentType: "text/plain",
    timestampUs,
    writer: "w1",
    tombstone: false,
  };
}

interface Built {
  app: FastifyInstance;
  store: MemoryStore;
  stats: ReplicaRouteStats;
  observed: number[];
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function build(
  clusterSecret: string | null = null,
  recovering = false,
  fallbacks?: ReplicaRoutesDeps["fallbacks"],
): Promise<Built> {
  const app = Fastify();
  apps.push(app);
  const store = new MemoryStore();
  const stats = new ReplicaRouteStats();
  const observed: number[] = [];
  registerErrorHandling(app);
  await app.register(replicaRoutes, {
    clusterSecret,
    stats,
    deps: {
      store,
      observeTimestamp: (timestampUs) => {
        observed.push(timestampUs);
        return true;
      },
      recovering: () => recovering,
      ...(fallbacks === undefined ? {} : { fallbacks }),
    },
  });
  await app.ready();
  return { app, store, stats, observed };
}

async function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? body : encodePeerBody(body);
  const answer = await app.inject({
    method: "POST",
    url: REPLICA_PATH,
    payload,
    headers: { "content-type": PEER_CONTENT_TYPE, ...headers },
  });
  return answer;
}

function results(answer: { rawPayload: Buffer }): unknown[] {
  return (decodePeerBody(answer.rawPayload) as { results: unknown[] }).results;
}

describe("the replica route", () => {
  it("applies every write of a request in one store apply, merges their timestamps, and acknowledges each", async () => {
    const { app, store, stats, observed } = await build();
    const answer = await post(app, {
      from: "coordinator",
      ops: [
        ["w", "a", encodeRecord(record(10))],
        ["w", "b", encodeRecord(record(11))],
      ],
    });
    expect(answer.statusCode).toBe(200);
    expect(results(answer)).toEqual([true, true]);
    expect(store.applies).toBe(1);
    expect(store.records.get("b")?.timestampUs).toBe(11);
    expect(observed).toEqual([10, 11]);
    expect(stats.writesApplied).toBe(2);
    expect(stats.requestsFrom.get("coordinator")).toBe(1);
  });

  it("answers a data read with the record, a digest read with (timestamp, writer), and null when absent", async () => {
    const { app, store } = await build();
    store.records.set("k", record(42, "hello"));
    const answer = await post(app, {
      from: "c",
      ops: [
        ["r", "k"],
        ["d", "k"],
        ["r", "none"],
        ["d", "none"],
      ],
    });
    const [data, digest, absentData, absentDigest] = results(answer);
    expect(decodeRecord(data as Uint8Array)).toMatchObject({ timestampUs: 42, writer: "w1" });
    expect(Buffer.from(decodeRecord(data as Uint8Array).value).toString()).toBe("hello");
    expect(digest).toEqual([42, "w1"]);
    expect(absentData).toBeNull();
    expect(absentDigest).toBeNull();
  });

  it("keeps a fallback write for its primary (not in the data), refuses it when full, and reads copies back", async () => {
    const held: { primary: string; key: string }[] = [];
    const { app, store } = await build(null, false, {
      store: async (primary, key) => {
        if (key === "full") return "full";
        held.push({ primary, key });
        return "stored";
      },
      find: async (key) => (key === "k" ? record(7, "copy") : undefined),
    });
    const answer = await post(app, {
      from: "coordinator",
      ops: [
        ["f", "k", encodeRecord(record(7, "copy")), "primary-1"],
        ["f", "full", encodeRecord(record(8)), "primary-1"],
        ["F", "k"],
        ["F", "none"],
      ],
    });
    const [stored, full, copy, none] = results(answer);
    expect(stored).toBe(true);
    expect(full).toMatchObject({ error: "fallback_full" });
    expect(Buffer.from(decodeRecord(copy as Uint8Array).value).toString()).toBe("copy");
    expect(none).toBeNull();
    expect(held).toEqual([{ primary: "primary-1", key: "k" }]);
    expect(store.records.size).toBe(0);
    // A node that keeps no fallbacks refuses the write and has no copies to read.
    const plain = await build();
    const refused = results(
      await post(plain.app, {
        from: "c",
        ops: [
          ["f", "k", encodeRecord(record(9)), "p"],
          ["F", "k"],
        ],
      }),
    );
    expect(refused).toEqual([expect.objectContaining({ error: "no_fallbacks" }), null]);
  });

  it("while recovering from a possible loss of writes, refuses every read and still applies writes", async () => {
    const { app, store } = await build(null, true);
    store.records.set("k", record(42));
    const answer = await post(app, {
      from: "c",
      ops: [
        ["r", "k"],
        ["d", "k"],
        ["w", "n", encodeRecord(record(43))],
      ],
    });
    expect(answer.statusCode).toBe(200);
    const [data, digest, write] = results(answer);
    expect(data).toMatchObject({ error: "recovering" });
    expect(digest).toMatchObject({ error: "recovering" });
    expect(write).toBe(true);
    expect(store.records.get("n")?.timestampUs).toBe(43);
  });

  it("fails only the operation with a bad key or an undecodable record, and applies its neighbours", async () => {
    const { app, store, stats } = await build();
    const answer = await post(app, {
      from: "c",
      ops: [
        ["w", "é".repeat(600), encodeRecord(record(1))], // 600 characters but 1200 bytes
        ["w", "good", encodeRecord(record(2))],
        ["w", "junk", Buffer.from([1, 2, 3])],
      ],
    });
    expect(answer.statusCode).toBe(200);
    const [badKey, good, badRecord] = results(answer) as { error?: string }[];
    expect(badKey).toMatchObject({ error: "bad_key" });
    expect(good).toBe(true);
    expect(badRecord).toMatchObject({ error: "bad_record" });
    expect([...store.records.keys()]).toEqual(["good"]);
    expect(stats.opsRefused).toBe(2);
  });

  it("answers each write with `overloaded` when the store refuses the batch", async () => {
    const { app, store, stats } = await build();
    store.overloaded = true;
    const answer = await post(app, { from: "c", ops: [["w", "a", encodeRecord(record(1))]] });
    expect(results(answer)).toEqual([expect.objectContaining({ error: "overloaded" })]);
    expect(stats.opsFailed).toBe(1);
  });

  const malformed: [string, unknown][] = [
    ["a body that is not msgpack", Buffer.from([0xc1, 0xc1, 0xc1])],
    ["an empty body", Buffer.alloc(0)],
    ["a message without ops", { from: "c" }],
    ["an empty op list", { from: "c", ops: [] }],
    ["an unknown operation", { from: "c", ops: [["x", "k"]] }],
    ["a write without its record", { from: "c", ops: [["w", "k"]] }],
    ["a record that is not bytes", { from: "c", ops: [["w", "k", "text"]] }],
    ["an empty key", { from: "c", ops: [["r", ""]] }],
    ["a key that is not a string", { from: "c", ops: [["r", 42]] }],
    ["an unknown field", { from: "c", ops: [["r", "k"]], extra: true }],
    ["a number where the sender's id goes", { from: 7, ops: [["r", "k"]] }],
    [
      "too many operations",
      {
        from: "c",
        ops: Array.from({ length: REPLICA_PROTOCOL_LIMITS.opsPerRequestMax + 1 }, () => ["r", "k"]),
      },
    ],
    ["a 64-bit integer as a key", { from: "c", ops: [["r", 2n ** 60n]] }],
  ];
  for (const [what, body] of malformed) {
    it(`refuses ${what} with 400 bad_request and counts it, without touching the store`, async () => {
      const { app, store, stats } = await build();
      const answer = await post(app, body);
      expect(answer.statusCode).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: "bad_request" });
      expect(stats.refusedMalformed).toBe(1);
      expect(stats.requests).toBe(0);
      expect(store.applies).toBe(0);
    });
  }

  it("refuses a body that is not application/msgpack with 400 and counts it", async () => {
    const { app, stats } = await build();
    const answer = await app.inject({
      method: "POST",
      url: REPLICA_PATH,
      payload: JSON.stringify({ from: "c", ops: [] }),
      headers: { "content-type": "application/json" },
    });
    expect(answer.statusCode).toBe(400);
    expect(stats.refusedMalformed).toBe(1);
  });

  it("refuses a caller without the cluster secret with 401 before reading the body, and serves one with it", async () => {
    const { app, store, stats } = await build("s3cret");
    const body = { from: "c", ops: [["w", "k", encodeRecord(record(1))]] };
    const refused = await post(app, body);
    expect(refused.statusCode).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "unauthorized" });
    const wrong = await post(app, body, { [CLUSTER_SECRET_HEADER]: "guess" });
    expect(wrong.statusCode).toBe(401);
    expect(stats.refusedUnauthorized).toBe(2);
    expect(store.applies).toBe(0);
    const accepted = await post(app, body, { [CLUSTER_SECRET_HEADER]: "s3cret" });
    expect(accepted.statusCode).toBe(200);
    expect(store.records.has("k")).toBe(true);
  });
});
