// A node whose store is overloaded answers a peer's write with 503 `unavailable` (back off and come
// again), not 400 (your message was wrong) or 500 (this node is broken), and does not count it as a
// malformed request. Checked on the two node-to-node routes that write: the repair exchange and the
// stream push. The store is real: a long queue of one-record batches keeps its write queue
// non-empty while the route's write arrives, so the store's own queuedWritesMax refuses it.

import { afterEach, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { RepairRouteStats, repairRoutes } from "../../../src/net/repair-routes.js";
import { REPAIR_PATH } from "../../../src/net/repair-protocol.js";
import { STREAM_PUSH_PATH } from "../../../src/net/stream-protocol.js";
import { StreamRouteStats, streamRoutes } from "../../../src/net/stream-routes.js";
import { encodeRecord, type KeyedRecord } from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

/**
 * Writes committed one per LevelDB batch: draining this many takes far longer than one injected
 * request.
 */
const BACKLOG = 4_000;

async function overloadedStore(): Promise<{ store: LevelStore; backlog: Promise<unknown> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-overload-"));
  const store = await openLevelStore({
    dataDir,
    sync: false,
    limits: { recordsPerBatchMax: 1, queuedWritesMax: 1 },
  });
  const writes: KeyedRecord[] = [];
  for (let i = 0; i < BACKLOG; i++) {
    writes.push({
      key: `backlog-${i}`,
      record: {
        value: Buffer.from("v"),
        contentType: "",
        timestampUs: 10,
        writer: "n",
        tombstone: false,
      },
    });
  }
  // Accepted whole (the queue was empty); the next write finds the queue non-empty and over its
  // limit.
  const backlog = store.apply(writes);
  cleanup.push(async () => {
    await backlog.catch(() => undefined);
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { store, backlog };
}

function post(app: FastifyInstance, url: string, body: unknown) {
  return app.inject({
    method: "POST",
    url,
    headers: { "content-type": PEER_CONTENT_TYPE },
    payload: encodePeerBody(body),
  });
}

const pushed = encodeRecord({
  value: Buffer.from("new"),
  contentType: "",
  timestampUs: 20,
  writer: "n",
  tombstone: false,
});

describe("node routes and an overloaded store", () => {
  it("answers a repair exchange push with 503 unavailable, not counted as malformed", async () => {
    const { store } = await overloadedStore();
    const stats = new RepairRouteStats();
    const app = Fastify();
    registerErrorHandling(app);
    await app.register(repairRoutes, {
      clusterSecret: null,
      stats,
      deps: { store, observeTimestamp: () => true },
    });
    await app.ready();
    cleanup.push(() => app.close());
    const answer = await post(app, REPAIR_PATH, {
      from: "a",
      op: "exchange",
      push: [["k", pushed]],
      pull: [],
    });
    expect(store.counters().queuedWrites).toBeGreaterThan(0);
    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "unavailable" });
    expect(stats.refusedMalformed).toBe(0);
  });

  it("answers a stream push with 503 unavailable, not counted as malformed", async () => {
    const { store } = await overloadedStore();
    const stats = new StreamRouteStats();
    const app = Fastify();
    registerErrorHandling(app);
    await app.register(streamRoutes, { clusterSecret: null, stats, store });
    await app.ready();
    cleanup.push(() => app.close());
    const answer = await post(app, STREAM_PUSH_PATH, { from: "a", records: [["k", pushed]] });
    expect(store.counters().queuedWrites).toBeGreaterThan(0);
    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "unavailable" });
    expect(stats.refusedMalformed).toBe(0);
  });
});
