// Issue 14 §2 at the node's seams: the clock guard's fence verdict from heartbeat replies, the bulk
// paths (repair exchange, stream push) skipping records from the future one by one while the rest
// of the page applies, the heartbeat exchange over the peer route, and the operator's
// future-records page.

import Fastify, { type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { futureRecordsPage } from "../../../src/api/future-records-routes.js";
import { validateHeartbeatReply } from "../../../src/cluster/peer-messages.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { PEER_PATH } from "../../../src/net/peer-protocol.js";
import { PeerRouteStats, peerRoutes } from "../../../src/net/peer-routes.js";
import { REPAIR_PATH } from "../../../src/net/repair-protocol.js";
import { RepairRouteStats, repairRoutes } from "../../../src/net/repair-routes.js";
import { STREAM_PUSH_PATH } from "../../../src/net/stream-protocol.js";
import { StreamRouteStats, streamRoutes } from "../../../src/net/stream-routes.js";
import { ClockGuard } from "../../../src/node/clock-guard.js";
import { encodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";

const WALL_US = 1_767_225_600_000_000;
const HOUR_MS = 3_600_000;
const DECADES_US = 30 * 365 * 24 * 3600 * 1_000_000;

function record(timestampUs: number, value = "v", writer = "w1"): StoredRecord {
  return {
    value: Buffer.from(value),
    contentType: "text/plain",
    timestampUs,
    writer,
    tombstone: false,
  };
}

class Log {
  readonly warns: { details: Record<string, unknown>; message: string }[] = [];
  readonly infos: string[] = [];
  warn(details: Record<string, unknown>, message: string): void {
    this.warns.push({ details, message });
  }
  info(_details: Record<string, unknown>, message: string): void {
    this.infos.push(message);
  }
}

function guard(options: { wallUs?: () => number; nowMs?: () => number } = {}) {
  const log = new Log();
  const clockGuard = new ClockGuard(
    { self: "me", maxClockOffsetMs: 500 },
    { wallUs: options.wallUs ?? (() => WALL_US), nowMs: options.nowMs ?? (() => 0), log },
  );
  return { clockGuard, log };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

async function levelStore(): Promise<LevelStore> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-clock-guard-"));
  const store = await openLevelStore({ dataDir, sync: false });
  cleanup.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return store;
}

async function serve(register: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandling(app);
  await register(app);
  await app.ready();
  cleanup.push(() => app.close());
  return app;
}

function post(app: FastifyInstance, url: string, body: unknown) {
  return app.inject({
    method: "POST",
    url,
    headers: { "content-type": PEER_CONTENT_TYPE },
    payload: encodePeerBody(body),
  });
}

describe("the clock guard's verdict", () => {
  it("fences writes once most measured peers are an hour off, logs it once at warn, and lifts it when they agree again", () => {
    let nowMs = 0;
    const { clockGuard, log } = guard({ nowMs: () => nowMs });
    const wallMs = WALL_US / 1000;
    // Our clock is an hour ahead of both peers: their t1 and t2 are an hour behind our t0 and t3.
    for (const peer of ["p1", "p2"]) {
      clockGuard.onHeartbeatReply(
        {
          kind: "heartbeat-reply",
          from: peer,
          t0: wallMs,
          t1: wallMs - HOUR_MS + 1,
          t2: wallMs - HOUR_MS + 1,
        },
        wallMs + 2,
      );
    }
    expect(clockGuard.clockInRange()).toBe(true); // the verdict moves on the tick
    clockGuard.tick(nowMs);
    expect(clockGuard.clockInRange()).toBe(false);
    expect(clockGuard.verdict()).toMatchObject({ measured: 2, outOfRange: 2 });
    clockGuard.tick(nowMs);
    expect(log.warns).toHaveLength(1);
    expect(clockGuard.fencedCount()).toBe(1);
    // The clock is fixed; the old samples age out of the window and fresh ones agree.
    nowMs += 6_000;
    for (const peer of ["p1", "p2"]) {
      clockGuard.onHeartbeatReply(
        { kind: "heartbeat-reply", from: peer, t0: wallMs, t1: wallMs + 1, t2: wallMs + 1 },
        wallMs + 2,
      );
    }
    clockGuard.tick(nowMs);
    expect(clockGuard.clockInRange()).toBe(true);
    expect(log.infos).toHaveLength(1);
  });

  it("counts every record from the future but warns at most once per interval per path, naming its origin", () => {
    const { clockGuard, log } = guard();
    for (let i = 0; i < 5; i++)
      clockGuard.refused("replica", {
        origin: "far-ahead",
        key: `k${i}`,
        timestampUs: WALL_US + DECADES_US,
      });
    expect(clockGuard.futureRecords().replica).toBe(5);
    expect(log.warns).toHaveLength(1);
    expect(log.warns[0]?.details).toMatchObject({
      path: "replica",
      origin: "far-ahead",
      key: "k0",
    });
  });
});

describe("bulk paths", () => {
  it("a repair exchange skips a pushed record from the future and applies the rest of the batch", async () => {
    const store = await levelStore();
    const { clockGuard } = guard();
    const stats = new RepairRouteStats();
    const app = await serve(async (instance) => {
      await instance.register(repairRoutes, {
        clusterSecret: null,
        stats,
        deps: { store: clockGuard.guardStore(store, "repair"), observeTimestamp: () => true },
      });
    });
    const answer = await post(app, REPAIR_PATH, {
      from: "peer",
      op: "exchange",
      push: [
        ["future", encodeRecord(record(WALL_US + DECADES_US, "old"))],
        ["present", encodeRecord(record(WALL_US, "now"))],
      ],
      pull: [],
    });
    expect(answer.statusCode).toBe(200);
    expect(await store.get("future")).toBeUndefined();
    expect((await store.get("present"))?.timestampUs).toBe(WALL_US);
    expect(clockGuard.futureRecords().repair).toBe(1);
  });

  it("a stream page with a record from the future still applies, without that record, so the stream advances", async () => {
    const store = await levelStore();
    const { clockGuard } = guard();
    const app = await serve(async (instance) => {
      await instance.register(streamRoutes, {
        clusterSecret: null,
        store: clockGuard.guardStore(store, "stream"),
        stats: new StreamRouteStats(),
      });
    });
    const answer = await post(app, STREAM_PUSH_PATH, {
      from: "source",
      records: [
        ["a", encodeRecord(record(WALL_US, "a"))],
        ["future", encodeRecord(record(WALL_US + DECADES_US, "old"))],
        ["b", encodeRecord(record(WALL_US, "b"))],
      ],
    });
    expect(answer.statusCode).toBe(200);
    expect(decodePeerBody(answer.rawPayload)).toMatchObject({ applied: 2 });
    expect(await store.get("future")).toBeUndefined();
    expect(await store.get("a")).toBeDefined();
    expect(await store.get("b")).toBeDefined();
    expect(clockGuard.futureRecords().stream).toBe(1);
  });
});

describe("the heartbeat exchange", () => {
  it("a monitor answers a timed heartbeat with its receive and reply times, and an untimed one with 204", async () => {
    let wallMs = 5_000;
    const app = await serve(async (instance) => {
      await instance.register(peerRoutes, {
        clusterSecret: null,
        stats: new PeerRouteStats(),
        deps: {
          receive: () => [],
          send: () => undefined,
          nowMs: () => 0,
          wallMs: () => (wallMs += 1),
          self: "monitor",
        },
      });
    });
    const heartbeat = {
      kind: "heartbeat",
      from: "member",
      generation: 1,
      incarnation: 0,
      sequence: 7,
    };
    const timed = await post(app, PEER_PATH, { ...heartbeat, sentWallMs: 1_234 });
    expect(timed.statusCode).toBe(200);
    const reply = validateHeartbeatReply(decodePeerBody(timed.rawPayload));
    expect(reply).toEqual({
      kind: "heartbeat-reply",
      from: "monitor",
      t0: 1_234,
      t1: 5_001,
      t2: 5_002,
    });
    expect((await post(app, PEER_PATH, heartbeat)).statusCode).toBe(204);
  });
});

describe("the operator's future-records page", () => {
  async function seeded() {
    const store = await levelStore();
    await store.apply([
      { key: "future", record: record(WALL_US + DECADES_US, "old", "ahead") },
      { key: "present", record: record(WALL_US - 1, "now") },
    ]);
    let stampUs = WALL_US;
    const deps = {
      self: "me",
      store,
      wallUs: () => WALL_US,
      maxClockOffsetUs: 500_000,
      stamp: () => (stampUs += 1),
    };
    return { store, deps };
  }

  it("lists the records stamped further ahead than the allowed offset and changes nothing", async () => {
    const { store, deps } = await seeded();
    const page = await futureRecordsPage(deps, { action: "list", after: null, scanRecordsMax: 10 });
    expect(page).toMatchObject({ scanned: 2, restamped: 0, purged: 0, next: null });
    expect(page.found.map((found) => [found.key, found.writer])).toEqual([["future", "ahead"]]);
    expect((await store.get("future"))?.timestampUs).toBe(WALL_US + DECADES_US);
  });

  it("restamps them with this node's clock, so a later write of the key wins again", async () => {
    const { store, deps } = await seeded();
    const page = await futureRecordsPage(deps, {
      action: "restamp",
      after: null,
      scanRecordsMax: 10,
    });
    expect(page.restamped).toBe(1);
    const restamped = await store.get("future");
    expect(restamped).toMatchObject({ timestampUs: WALL_US + 1, writer: "me" });
    expect(Buffer.from(restamped?.value ?? []).toString()).toBe("old");
    await store.apply([{ key: "future", record: record(WALL_US + 10, "new") }]);
    expect(Buffer.from((await store.get("future"))?.value ?? []).toString()).toBe("new");
  });

  it("purges them", async () => {
    const { store, deps } = await seeded();
    const page = await futureRecordsPage(deps, {
      action: "purge",
      after: null,
      scanRecordsMax: 10,
    });
    expect(page.purged).toBe(1);
    expect(await store.get("future")).toBeUndefined();
    expect(await store.get("present")).toBeDefined();
  });

  it("pages through the store in token order, missing no key", async () => {
    const store = await levelStore();
    const keys = Array.from({ length: 25 }, (_, i) => `k${i}`);
    await store.apply(keys.map((key) => ({ key, record: record(WALL_US + DECADES_US) })));
    const deps = {
      self: "me",
      store,
      wallUs: () => WALL_US,
      maxClockOffsetUs: 500_000,
      stamp: () => WALL_US,
    };
    const seen: string[] = [];
    let after: bigint | null = null;
    let pages = 0;
    do {
      const page = await futureRecordsPage(deps, { action: "list", after, scanRecordsMax: 4 });
      seen.push(...page.found.map((found) => found.key));
      after = page.next === null ? null : BigInt(`0x${page.next}`);
      pages++;
    } while (after !== null && pages < 100);
    expect(pages).toBeGreaterThan(5);
    expect(seen.sort()).toEqual([...keys].sort());
  });
});
