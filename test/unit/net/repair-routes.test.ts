// The repair route refuses what it cannot trust (ARCHITECTURE §6.5): wrong secret, not msgpack, a
// body outside the schema, tree nodes or leaves the range does not have, bad records.

import { afterEach, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { CLUSTER_SECRET_HEADER } from "../../../src/net/auth.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { RepairRouteStats, repairRoutes } from "../../../src/net/repair-routes.js";
import { REPAIR_PATH } from "../../../src/net/repair-protocol.js";
import { encodeRecord } from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

async function serve(
  secret: string | null = null,
): Promise<{ app: FastifyInstance; store: LevelStore; stats: RepairRouteStats }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-repair-route-"));
  const store = await openLevelStore({ dataDir, sync: false });
  const stats = new RepairRouteStats();
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(repairRoutes, {
    clusterSecret: secret,
    stats,
    deps: { store, observeTimestamp: () => true },
  });
  await app.ready();
  cleanup.push(async () => {
    await app.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { app, store, stats };
}

function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: "POST",
    url: REPAIR_PATH,
    headers: { "content-type": PEER_CONTENT_TYPE, ...headers },
    payload: Buffer.isBuffer(body) ? body : encodePeerBody(body),
  });
}

const WHOLE = [5n, 5n];

describe("repair route", () => {
  it("answers roots for the ranges asked, 4 bytes each", async () => {
    const { app } = await serve();
    const answer = await post(app, {
      from: "a",
      op: "roots",
      session: "s",
      window: 1,
      ranges: [WHOLE, [0n, 2n ** 63n]],
    });
    expect(answer.statusCode).toBe(200);
    expect((decodePeerBody(answer.rawPayload) as { hashes: Uint8Array }).hashes.length).toBe(8);
  });

  it("refuses a caller without the cluster secret with 401", async () => {
    const { app, stats } = await serve("s3cret");
    expect(
      (await post(app, { from: "a", op: "roots", session: "s", window: 1, ranges: [WHOLE] }))
        .statusCode,
    ).toBe(401);
    expect(
      (
        await post(
          app,
          { from: "a", op: "roots", session: "s", window: 1, ranges: [WHOLE] },
          { [CLUSTER_SECRET_HEADER]: "s3cret" },
        )
      ).statusCode,
    ).toBe(200);
    expect(stats.refusedUnauthorized).toBe(1);
  });

  it.each([
    ["not msgpack", Buffer.from([0xc1])],
    ["an unknown op", { from: "a", op: "drop", session: "s", ranges: [WHOLE] }],
    ["a negative token", { from: "a", op: "roots", session: "s", window: 1, ranges: [[-1n, 1n]] }],
    ["no ranges", { from: "a", op: "roots", session: "s", window: 1, ranges: [] }],
    [
      "a node the tree does not have",
      { from: "a", op: "nodes", session: "s", asks: [[0, 2, 40, 0]] },
    ],
    [
      "a leaf as a node to descend from",
      { from: "a", op: "nodes", session: "s", asks: [[1, 1, 0, 0]] },
    ],
    [
      "a range the session does not have",
      { from: "a", op: "nodes", session: "s", asks: [[7, 1, 0, 0]] },
    ],
    [
      "a session that never asked for roots",
      { from: "a", op: "entries", session: "other", asks: [[0, 0, 1]] },
    ],
    ["leaves outside the range", { from: "a", op: "entries", session: "s", asks: [[1, 0, 2]] }],
    [
      "a record that does not decode",
      { from: "a", op: "exchange", push: [["k", Buffer.from([1, 2, 3])]], pull: [] },
    ],
    ["too many levels", { from: "a", op: "nodes", session: "s", asks: [[0, 60, 0, 0]] }],
  ])("refuses %s with 400 bad_request and counts it", async (_what, body) => {
    const { app, stats } = await serve();
    // The session's ranges: the whole ring (65,537 leaves) and a range inside one segment (one
    // leaf).
    expect(
      (
        await post(app, {
          from: "a",
          op: "roots",
          session: "s",
          window: 1,
          ranges: [WHOLE, [0n, 10n]],
        })
      ).statusCode,
    ).toBe(200);
    const answer = await post(app, body);
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "bad_request" });
    expect(stats.refusedMalformed).toBe(1);
  });

  it("applies pushed records by last write wins and answers pulls with what it holds", async () => {
    const { app, store } = await serve();
    const newer = {
      value: Buffer.from("new"),
      contentType: "",
      timestampUs: 20,
      writer: "n",
      tombstone: false,
    };
    const older = { ...newer, value: Buffer.from("old"), timestampUs: 10 };
    await store.apply([{ key: "k", record: newer }]);
    const answer = await post(app, {
      from: "a",
      op: "exchange",
      push: [
        ["k", encodeRecord(older)],
        ["j", encodeRecord(older)],
      ],
      pull: ["k", "absent"],
    });
    expect(answer.statusCode).toBe(200);
    const reply = decodePeerBody(answer.rawPayload) as { records: (Uint8Array | null)[] };
    // One answer per pulled key, in order: the newer "k", nothing for "absent".
    expect(reply.records).toHaveLength(2);
    expect(reply.records[0]).toBeInstanceOf(Uint8Array);
    expect(reply.records[1]).toBeNull();
    expect(Buffer.from((await store.get("k"))?.value ?? []).toString()).toBe("new");
    expect(Buffer.from((await store.get("j"))?.value ?? []).toString()).toBe("old");
  });
});
