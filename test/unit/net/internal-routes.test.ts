// InternalRoutes (net/internal-routes.ts) answers exactly as the fastify routes do (replica,
// repair, stream): the same status, body and counters for a good request and for each refusal,
// because both run node-route.ts.

import Fastify, { type FastifyPluginAsync } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { CLUSTER_SECRET_HEADER } from "../../../src/net/auth.js";
import { encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { InternalRoutes } from "../../../src/net/internal-routes.js";
import { REPLICA_PATH } from "../../../src/net/replica-protocol.js";
import {
  replicaRouteGroup,
  ReplicaRouteStats,
  replicaRoutes,
  type ReplicaRoutesOptions,
} from "../../../src/net/replica-routes.js";
import { encodeRecord, type KeyedRecord, type StoredRecord } from "../../../src/storage/record.js";
import {
  openLevelStore,
  StoreOverloadedError,
  type ApplyResult,
  type LevelStore,
} from "../../../src/storage/store.js";
import type { NodeRouteGroup } from "../../../src/net/node-route.js";
import { REPAIR_PATH } from "../../../src/net/repair-protocol.js";
import {
  repairRouteGroup,
  RepairRouteStats,
  repairRoutes,
  type RepairRoutesOptions,
} from "../../../src/net/repair-routes.js";
import { STREAM_FETCH_PATH } from "../../../src/net/stream-protocol.js";
import {
  streamRouteGroup,
  StreamRouteStats,
  streamRoutes,
  type StreamRoutesOptions,
} from "../../../src/net/stream-routes.js";

function options(overloaded: boolean): ReplicaRoutesOptions {
  const records = new Map<string, StoredRecord>();
  const store = {
    async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
      if (overloaded)
        throw new StoreOverloadedError("queuedWritesMax", "the store's write queue is full");
      for (const { key, record } of writes) records.set(key, record);
      return { written: writes.length, superseded: 0 };
    },
    async get(key: string) {
      return records.get(key);
    },
  };
  return {
    clusterSecret: "s3cret",
    stats: new ReplicaRouteStats(),
    bodyBytesMax: 256,
    deps: { store, observeTimestamp: () => true },
  };
}

const write = encodeRecord({
  value: Buffer.from("v"),
  contentType: "",
  timestampUs: 5,
  writer: "n",
  tombstone: false,
});
const good = encodePeerBody({
  from: "n1",
  ops: [
    ["w", "k", write],
    ["r", "k"],
  ],
});

const cases: [string, Record<string, string>, Buffer][] = [
  [
    "a good request",
    { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE },
    good,
  ],
  ["a bad secret", { [CLUSTER_SECRET_HEADER]: "nope", "content-type": PEER_CONTENT_TYPE }, good],
  [
    "a wrong content type",
    { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": "text/plain" },
    good,
  ],
  [
    "an oversized body",
    { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE },
    Buffer.alloc(300, 1),
  ],
  [
    "bad msgpack",
    { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE },
    Buffer.from([0xc1]),
  ],
];

function countersOf(stats: ReplicaRouteStats): Record<string, number> {
  const {
    requests,
    bytesReceived,
    writesApplied,
    reads,
    refusedMalformed,
    refusedUnauthorized,
    opsRefused,
    opsFailed,
  } = stats;
  return {
    requests,
    bytesReceived,
    writesApplied,
    reads,
    refusedMalformed,
    refusedUnauthorized,
    opsRefused,
    opsFailed,
  };
}

async function both(headers: Record<string, string>, body: Buffer, overloaded: boolean) {
  const viaFastify = options(overloaded);
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(replicaRoutes, viaFastify);
  const http = await app.inject({ method: "POST", url: REPLICA_PATH, headers, payload: body });
  await app.close();
  const direct = options(overloaded);
  const internal = await new InternalRoutes([replicaRouteGroup(direct)]).handle({
    method: "POST",
    path: REPLICA_PATH,
    headers,
    body,
  });
  return {
    http: {
      status: http.statusCode,
      body: http.rawPayload.toString("base64"),
      stats: countersOf(viaFastify.stats),
    },
    internal: {
      status: internal.statusCode,
      body: internal.body.toString("base64"),
      stats: countersOf(direct.stats),
    },
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
    const reply = await new InternalRoutes([replicaRouteGroup(options(false))]).handle({
      method: "POST",
      path: "/x",
      headers: {},
      body: Buffer.alloc(0),
    });
    expect(reply.statusCode).toBe(404);
  });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

/** A store holding the same few records every time, so two of them answer alike. */
async function seededStore(): Promise<LevelStore> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-internal-routes-"));
  const store = await openLevelStore({ dataDir, sync: false });
  cleanup.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const record = {
    value: Buffer.from("v"),
    contentType: "",
    timestampUs: 5,
    writer: "n",
    tombstone: false,
  };
  await store.apply(["a", "b", "c"].map((key) => ({ key, record })));
  return store;
}

/** The repair route's view of a store whose write queue is full: reads work, writes are refused. */
function overloaded(store: LevelStore): RepairRoutesOptions["deps"]["store"] {
  return {
    segments: () => store.segments(),
    scanHashed: (first, last, limit, include) => store.scanHashed(first, last, limit, include),
    get: (key) => store.get(key),
    apply: async (): Promise<ApplyResult> => {
      throw new StoreOverloadedError("queuedWritesMax", "the store's write queue is full");
    },
  };
}

interface Sent {
  readonly path: string;
  readonly body: unknown;
}

interface Answered {
  readonly statuses: number[];
  readonly bodies: string[];
  readonly stats: Record<string, number>;
}

const headers = { [CLUSTER_SECRET_HEADER]: "s3cret", "content-type": PEER_CONTENT_TYPE };

/** The same requests, in order, to a fastify plugin and to its group through InternalRoutes. */
async function viaBoth<O extends { readonly stats: object }>(
  make: () => Promise<O>,
  plugin: FastifyPluginAsync<O>,
  group: (options: O) => NodeRouteGroup,
  requests: readonly Sent[],
): Promise<{ http: Answered; internal: Answered }> {
  const viaFastify = await make();
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(plugin, viaFastify);
  const http: Answered = { statuses: [], bodies: [], stats: {} };
  for (const { path: url, body } of requests) {
    const reply = await app.inject({ method: "POST", url, headers, payload: encodePeerBody(body) });
    http.statuses.push(reply.statusCode);
    http.bodies.push(reply.rawPayload.toString("base64"));
  }
  await app.close();
  const direct = await make();
  const routes = new InternalRoutes([group(direct)]);
  const internal: Answered = { statuses: [], bodies: [], stats: {} };
  for (const { path: url, body } of requests) {
    const reply = await routes.handle({
      method: "POST",
      path: url,
      headers,
      body: encodePeerBody(body),
    });
    internal.statuses.push(reply.statusCode);
    internal.bodies.push(reply.body.toString("base64"));
  }
  return {
    http: { ...http, stats: { ...viaFastify.stats } },
    internal: { ...internal, stats: { ...direct.stats } },
  };
}

function repairOptions(slow: boolean): () => Promise<RepairRoutesOptions> {
  return async () => {
    const store = await seededStore();
    return {
      clusterSecret: "s3cret",
      stats: new RepairRouteStats(),
      deps: { store: slow ? overloaded(store) : store, observeTimestamp: () => true },
    };
  };
}

const pushed = encodeRecord({
  value: Buffer.from("w"),
  contentType: "",
  timestampUs: 9,
  writer: "m",
  tombstone: false,
});
const roots: Sent = {
  path: REPAIR_PATH,
  body: { from: "n1", op: "roots", session: "s", window: 1, ranges: [[5n, 5n]] },
};
const exchange: Sent = {
  path: REPAIR_PATH,
  body: { from: "n1", op: "exchange", push: [["d", pushed]], pull: ["a", "z"] },
};

describe("InternalRoutes over the repair and stream groups", () => {
  it("answers a repair roots and exchange as the fastify route does", async () => {
    const { http, internal } = await viaBoth(repairOptions(false), repairRoutes, repairRouteGroup, [
      roots,
      exchange,
    ]);
    expect(internal).toEqual(http);
    expect(internal.statuses).toEqual([200, 200]);
    expect(internal.stats).toMatchObject({ requests: 2, recordsReceived: 1, recordsSent: 1 });
  });

  it("answers an exchange push to an overloaded store as the fastify route does", async () => {
    const { http, internal } = await viaBoth(repairOptions(true), repairRoutes, repairRouteGroup, [
      exchange,
    ]);
    expect(internal).toEqual(http);
    expect(internal.statuses).toEqual([503]);
  });

  it("answers a stream page as the fastify route does", async () => {
    const make = async (): Promise<StreamRoutesOptions> => ({
      clusterSecret: "s3cret",
      store: await seededStore(),
      stats: new StreamRouteStats(),
    });
    const fetch: Sent = {
      path: STREAM_FETCH_PATH,
      body: { from: "n1", start: 7n, end: 7n, limit: 2 },
    };
    const { http, internal } = await viaBoth(make, streamRoutes, streamRouteGroup, [fetch]);
    expect(internal).toEqual(http);
    expect(internal.statuses).toEqual([200]);
    expect(internal.stats).toMatchObject({ fetches: 1, recordsSent: 2 });
  });
});
