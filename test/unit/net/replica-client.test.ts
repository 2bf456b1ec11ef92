// The replica client (net/replica-client.ts) against a real replica route on 127.0.0.1: operations
// issued in one turn share one request, answers fan back to their callers, bounds fail fast.

import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { registerErrorHandling } from "../../../src/api/errors.js";
import {
  ReplicaClient,
  ReplicaOpRefusedError,
  ReplicaRequestError,
  type ReplicaClientOptions,
} from "../../../src/net/replica-client.js";
import { REPLICA_PROTOCOL_LIMITS } from "../../../src/net/replica-protocol.js";
import { ReplicaRouteStats, replicaRoutes } from "../../../src/net/replica-routes.js";
import {
  compareRecords,
  encodeRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import type { ApplyResult } from "../../../src/storage/store.js";
import { freePort } from "../../support/ports.js";

class MemoryStore {
  readonly records = new Map<string, StoredRecord>();
  applies = 0;
  async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
    this.applies++;
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

const SILENT = { debug: () => undefined, warn: () => undefined };
const servers: FastifyInstance[] = [];
const clients: ReplicaClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function replica(
  clusterSecret: string | null = null,
): Promise<{ address: string; store: MemoryStore; stats: ReplicaRouteStats }> {
  const app = Fastify();
  servers.push(app);
  const store = new MemoryStore();
  const stats = new ReplicaRouteStats();
  registerErrorHandling(app);
  await app.register(replicaRoutes, {
    clusterSecret,
    stats,
    deps: { store, observeTimestamp: () => true },
  });
  const port = await freePort();
  await app.listen({ host: "127.0.0.1", port });
  return { address: `127.0.0.1:${port}`, store, stats };
}

function client(
  addresses: Record<NodeId, string>,
  options: Partial<ReplicaClientOptions> = {},
): { client: ReplicaClient; batches: number[] } {
  const batches: number[] = [];
  const created = new ReplicaClient(
    {
      self: "coordinator",
      clusterSecret: null,
      requestTimeoutMs: 2_000,
      maxValueBytes: 1024 * 1024,
      ...options,
    },
    {
      nowMs: () => performance.now(),
      addressOf: (id) => addresses[id],
      log: SILENT,
      onRequestSent: (ops) => batches.push(ops),
    },
  );
  clients.push(created);
  return { client: created, batches };
}

describe("ReplicaClient", () => {
  it("sends the operations issued to one peer in one turn as one request, and answers each caller", async () => {
    const peer = await replica();
    const { client: transport, batches } = client({ r1: peer.address });
    const writes = Array.from({ length: 50 }, (_, i) =>
      transport.write("r1", `k${i}`, encodeRecord(record(i + 1))),
    );
    await Promise.all(writes);
    expect(batches).toEqual([50]);
    expect(peer.store.applies).toBe(1);
    expect(peer.store.records.size).toBe(50);
    const [data, digest, absent, absentDigest] = await Promise.all([
      transport.readData("r1", "k7"),
      transport.readDigest("r1", "k7"),
      transport.readData("r1", "nope"),
      transport.readDigest("r1", "nope"),
    ]);
    expect(batches).toEqual([50, 4]);
    expect(data).toMatchObject({ timestampUs: 8, writer: "w1", tombstone: false });
    expect(digest).toEqual({ timestampUs: 8, writer: "w1" });
    expect(absent).toBeUndefined();
    expect(absentDigest).toBeNull();
  });

  it("sends one request per operation when coalescing is off", async () => {
    const peer = await replica();
    const { client: transport, batches } = client(
      { r1: peer.address },
      { coalesce: false, requestsInFlightPerPeerMax: 64 },
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => transport.write("r1", `k${i}`, encodeRecord(record(1)))),
    );
    expect(batches).toEqual(Array.from({ length: 10 }, () => 1));
  });

  it("splits a flush larger than the protocol allows into requests of at most opsPerRequestMax", async () => {
    const peer = await replica();
    const { client: transport, batches } = client({ r1: peer.address });
    const count = REPLICA_PROTOCOL_LIMITS.opsPerRequestMax + 10;
    await Promise.all(Array.from({ length: count }, (_, i) => transport.readDigest("r1", `k${i}`)));
    expect(batches.reduce((sum, ops) => sum + ops, 0)).toBe(count);
    expect(Math.max(...batches)).toBeLessThanOrEqual(REPLICA_PROTOCOL_LIMITS.opsPerRequestMax);
  });

  it("keeps separate peers' operations in separate requests", async () => {
    const one = await replica();
    const two = await replica();
    const { client: transport, batches } = client({ r1: one.address, r2: two.address });
    await Promise.all([
      transport.write("r1", "a", encodeRecord(record(1))),
      transport.write("r2", "b", encodeRecord(record(1))),
      transport.write("r1", "c", encodeRecord(record(1))),
    ]);
    expect(batches.sort()).toEqual([1, 2]);
    expect([...one.store.records.keys()].sort()).toEqual(["a", "c"]);
    expect([...two.store.records.keys()]).toEqual(["b"]);
  });

  it("fails fast past queuedOpsPerPeerMax with an overloaded error, and still serves the admitted ones", async () => {
    const peer = await replica();
    const { client: transport } = client({ r1: peer.address }, { queuedOpsPerPeerMax: 5 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => transport.write("r1", `k${i}`, encodeRecord(record(1)))),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(5);
    const refused = outcomes.filter(
      (outcome): outcome is PromiseRejectedResult => outcome.status === "rejected",
    );
    expect(refused).toHaveLength(3);
    for (const outcome of refused)
      expect((outcome.reason as ReplicaRequestError).reason).toBe("overloaded");
    expect(transport.stats().opsDropped).toBe(3);
  });

  it("rejects with unreachable when nothing listens, and with no-address for an unknown member", async () => {
    const port = await freePort();
    const { client: transport } = client({ gone: `127.0.0.1:${port}` });
    await expect(transport.write("gone", "k", encodeRecord(record(1)))).rejects.toMatchObject({
      reason: "unreachable",
    });
    await expect(transport.readData("stranger", "k")).rejects.toMatchObject({
      reason: "no-address",
    });
    expect(transport.stats().requestsFailed).toBe(1);
  });

  it("rejects with refused when the peer wants a cluster secret it was not given", async () => {
    const peer = await replica("s3cret");
    const { client: withoutSecret } = client({ r1: peer.address });
    await expect(withoutSecret.write("r1", "k", encodeRecord(record(1)))).rejects.toMatchObject({
      reason: "refused",
    });
    const { client: withSecret } = client({ r1: peer.address }, { clusterSecret: "s3cret" });
    await expect(withSecret.write("r1", "k", encodeRecord(record(1)))).resolves.toBeUndefined();
  });

  /** A stand-in peer whose replica route answers every request with `answer`. */
  async function fakePeer(answer: (reply: FastifyReply) => FastifyReply): Promise<string> {
    const app = Fastify();
    servers.push(app);
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) =>
      done(null, body),
    );
    app.post("/internal/v1/replica", async (_request, reply) => answer(reply));
    const port = await freePort();
    await app.listen({ host: "127.0.0.1", port });
    return `127.0.0.1:${port}`;
  }

  it("names the refusal's error code from the peer's JSON body, and refuses an oversized error body without reading it all", async () => {
    const refusing = await fakePeer((reply) =>
      reply.code(503).send({ error: "unavailable", message: "draining" }),
    );
    const { client: transport } = client({ r1: refusing });
    const refusal = transport.write("r1", "k", encodeRecord(record(1)));
    await expect(refusal).rejects.toMatchObject({ reason: "refused" });
    await expect(refusal).rejects.toThrow(/503 unavailable: draining/);

    const verbose = await fakePeer((reply) => reply.code(500).send("x".repeat(256 * 1024)));
    const { client: toVerbose } = client({ r2: verbose });
    await expect(toVerbose.write("r2", "k", encodeRecord(record(1)))).rejects.toMatchObject({
      reason: "refused",
    });
  });

  it("rejects with malformed-reply when a peer answers 200 with bytes that are not a reply", async () => {
    const garbled = await fakePeer((reply) =>
      reply
        .code(200)
        .type("application/msgpack")
        .send(Buffer.from([0xc1])),
    );
    const { client: transport } = client({ r1: garbled });
    await expect(transport.readData("r1", "k")).rejects.toMatchObject({
      reason: "malformed-reply",
    });
    expect(transport.stats().requestsFailed).toBe(1);
  });

  it("rejects only the operation a replica refused, with its code", async () => {
    const peer = await replica();
    const { client: transport } = client({ r1: peer.address });
    const [bad, good] = await Promise.allSettled([
      transport.write("r1", "k", Buffer.from([1, 2, 3])),
      transport.write("r1", "k2", encodeRecord(record(1))),
    ]);
    expect(bad?.status).toBe("rejected");
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(ReplicaOpRefusedError);
    expect(((bad as PromiseRejectedResult).reason as ReplicaOpRefusedError).code).toBe(
      "bad_record",
    );
    expect(good?.status).toBe("fulfilled");
  });

  it("fails queued operations on close and refuses new ones", async () => {
    const peer = await replica();
    const { client: transport } = client({ r1: peer.address });
    const pending = transport.write("r1", "k", encodeRecord(record(1)));
    await transport.close();
    await expect(pending).rejects.toMatchObject({ reason: "closed" });
    await expect(transport.readData("r1", "k")).rejects.toMatchObject({ reason: "closed" });
  });
});
