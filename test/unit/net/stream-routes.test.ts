// The stream fetch route (issue 14): pages resume strictly after the caller's cursor (token, key),
// are bounded by bytes as well as records with one record of the largest value going alone, and a
// request whose cursor or bounds are outside the schema is refused with 400 before any scan.

import { afterEach, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import {
  STREAM_FETCH_PATH,
  STREAM_PROTOCOL_LIMITS,
  type StreamFetchReply,
} from "../../../src/net/stream-protocol.js";
import { StreamRouteStats, streamRoutes } from "../../../src/net/stream-routes.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

async function serve(): Promise<{
  app: FastifyInstance;
  store: LevelStore;
  stats: StreamRouteStats;
}> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-stream-route-"));
  const store = await openLevelStore({ dataDir, sync: false });
  const stats = new StreamRouteStats();
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(streamRoutes, { clusterSecret: null, store, stats });
  await app.ready();
  cleanup.push(async () => {
    await app.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { app, store, stats };
}

async function fetchPage(
  app: FastifyInstance,
  body: Record<string, unknown>,
): Promise<{ status: number; reply: StreamFetchReply }> {
  const answer = await app.inject({
    method: "POST",
    url: STREAM_FETCH_PATH,
    headers: { "content-type": PEER_CONTENT_TYPE },
    payload: encodePeerBody({ from: "a", start: 7n, end: 7n, limit: 100, ...body }),
  });
  return {
    status: answer.statusCode,
    reply:
      answer.statusCode === 200
        ? (decodePeerBody(answer.rawPayload) as StreamFetchReply)
        : { records: [], done: true },
  };
}

function write(store: LevelStore, key: string, valueBytes: number) {
  return store.apply([
    {
      key,
      record: {
        value: Buffer.alloc(valueBytes, 7),
        contentType: "application/octet-stream",
        timestampUs: 1,
        writer: "n",
        tombstone: false,
      },
    },
  ]);
}

describe("stream fetch route", () => {
  it("pages values of 1 MiB one record each, resuming after the last key, until done, each key once", async () => {
    const { app, store } = await serve();
    const keys = Array.from({ length: 5 }, (_, index) => `big-${index}`);
    for (const key of keys) await write(store, key, 1024 * 1024);
    await write(store, "small", 10);
    const seen: string[] = [];
    let cursor: { start: bigint; after?: string } = { start: 7n };
    for (let pages = 0; pages < 20; pages++) {
      const { status, reply } = await fetchPage(app, cursor);
      expect(status).toBe(200);
      // Bounded by bytes: never more than one record of 1 MiB in a page.
      expect(
        reply.records.filter(([, record]) => record.length > 1024 * 1024).length,
      ).toBeLessThanOrEqual(1);
      seen.push(...reply.records.map(([key]) => key));
      if (reply.done) break;
      const last = reply.records.at(-1);
      if (last === undefined) throw new Error("an empty page that is not done");
      cursor = { start: last[2], after: last[0] };
    }
    expect([...seen].sort()).toEqual([...keys, "small"].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("resumes strictly after the cursor key within its token", async () => {
    const { app, store } = await serve();
    await write(store, "k", 10);
    const token = tokenOf("k");
    const { status, reply } = await fetchPage(app, { start: token, end: token, after: "k" });
    expect(status).toBe(200);
    // Only the tail of the cursor's own token (the last of the range), which has nothing after "k".
    expect(reply).toEqual({ records: [], done: true });
  });

  it.each([
    ["an empty cursor key", { after: "" }],
    ["a cursor key over 1024 bytes", { after: "é".repeat(600) }],
    ["a cursor key that is not a string", { after: 5 }],
    ["a byte bound below the minimum", { bytes: STREAM_PROTOCOL_LIMITS.pageBytesMin - 1 }],
    ["a byte bound above the page target", { bytes: STREAM_PROTOCOL_LIMITS.pageBytesTarget + 1 }],
  ])("refuses %s with 400", async (_name, body) => {
    const { app } = await serve();
    expect((await fetchPage(app, body)).status).toBe(400);
  });
});
