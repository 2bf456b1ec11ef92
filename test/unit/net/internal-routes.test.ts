// InternalRoutes (net/internal-routes.ts) answers exactly as the fastify replica route does: the same
// status, body and counters for a good request and for each refusal, because both run node-route.ts.

import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { CLUSTER_SECRET_HEADER } from "../../../src/net/auth.js";
import { encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { InternalRoutes } from "../../../src/net/internal-routes.js";
import { REPLICA_PATH } from "../../../src/net/replica-protocol.js";
import { replicaRouteGroup, ReplicaRouteStats, replicaRoutes, type ReplicaRoutesOptions } from "../../../src/net/replica-routes.js";
import { encodeRecord, type KeyedRecord, type StoredRecord } from "../../../src/storage/record.js";
import { StoreOverloadedError, type ApplyResult } from "../../../src/storage/store.js";

function options(overloaded: boolean): ReplicaRoutesOptions {
  const records = new Map<string, StoredRecord>();
  const store = {
    async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
      if (overloaded) throw new StoreOverloadedError("queuedWritesMax", "the store's write queue is full");
      for (const { key, record } of writes) records.set(key, record);
      return { written: writes.length, superseded: 0 };
    },
    async get(key: string) {
      return records.get(key);
    },
  };
  return { clusterSecret: "s3cret", stats: new ReplicaRouteStats(), bodyBytesMax: 256, deps: { store, observeTimestamp: () => true } };
}

const write = encodeRecord({ value: Buffer.from("v"), contentType: "", timestampUs: 5, writer: "n", tombstone: false });
const good = encodePeerBody({ from: "n1", ops: [["w", "k", write], ["r", "k"]] });

const cases: [string, Record<string, string>, Buffer][] = [
  ["a good request", { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE }, good],
  ["a bad secret", { [CLUSTER_SECRET_HEADER]: "nope", "content-type": PEER_CONTENT_TYPE }, good],
  ["a wrong content type", { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": "text/plain" }, good],
  ["an oversized body", { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE }, Buffer.alloc(300, 1)],
  ["bad msgpack", { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE }, Buffer.from([0xc1])],
];

function countersOf(stats: ReplicaRouteStats): Record<string, number> {
  const { requests, bytesReceived, writesApplied, reads, refusedMalformed, refusedUnauthorized, opsRefused, opsFailed } = stats;
  return { requests, bytesReceived, writesApplied, reads, refusedMalformed, refusedUnauthorized, opsRefused, opsFailed };
}

async function both(headers: Record<string, string>, body: Buffer, overloaded: boolean) {
  const viaFastify = options(overloaded);
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(replicaRoutes, viaFastify);
  const http = await app.inject({ method: "POST", url: REPLICA_PATH, headers, payload: body });
  await app.close();
  const direct = options(overloaded);
  const internal = await new InternalRoutes([replicaRouteGroup(direct)]).handle({ method: "POST", path: REPLICA_PATH, headers, body });
  return {
    http: { status: http.statusCode, body: http.rawPayload.toString("base64"), stats: countersOf(viaFastify.stats) },
    internal: { status: internal.statusCode, body: internal.body.toString("base64"), stats: countersOf(direct.stats) },
  };
}

describe("InternalRoutes", () => {
  for (const [name, headers, body] of cases) {
    it(`answers ${name} as the fastify route does`, async () => {
      const { http, internal } = await both(headers, body, false);
      expect(internal).toEqual(http);
    });
  }

  it("answers a write to an overloaded store as the fastify route does", async () => {
    const { http, internal } = await both(cases[0]![1], good, true);
    expect(internal).toEqual(http);
    expect(internal.status).toBe(200);
  });

  it("refuses an unknown path with 404", async () => {
    const reply = await new InternalRoutes([replicaRouteGroup(options(false))]).handle({ method: "POST", path: "/x", headers: {}, body: Buffer.alloc(0) });
    expect(reply.statusCode).toBe(404);
  });
});
