// Issue 14 §2, the write path: a record stamped further ahead than the allowed clock offset is
// refused where a replica applies a peer's write (and never stored), and a coordinator whose clock
// is fenced or whose stamp is ahead refuses the client's write with 503 unavailable, reason
// clock_offset; a write its replicas refuse for the stamp fails the same way and is never
// acknowledged.

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { GrapevineError } from "../../../src/core/errors.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { REPLICA_PATH } from "../../../src/net/replica-protocol.js";
import { ReplicaRouteStats, replicaRoutes } from "../../../src/net/replica-routes.js";
import { ReplicaOpRefusedError } from "../../../src/net/replica-client.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { Coordinator } from "../../../src/replication/coordinator.js";
import type { ReplicaTransport } from "../../../src/replication/replica-transport.js";
import {
  compareRecords,
  encodeRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import type { ApplyResult } from "../../../src/storage/store.js";
import { HybridClock } from "../../../src/time/hlc.js";

const WALL_US = 1_767_225_600_000_000; // 2026-01-01
const MAX_OFFSET_US = 500_000;
const DECADES_US = 30 * 365 * 24 * 3600 * 1_000_000;

class MemoryStore {
  readonly records = new Map<string, StoredRecord>();
  async apply(writes: readonly KeyedRecord[]): Promise<ApplyResult> {
    let written = 0;
    for (const { key, record } of writes) {
      const current = this.records.get(key);
      if (current === undefined || compareRecords(record, current) > 0) {
        this.records.set(key, record);
        written++;
      }
    }
    return { written, superseded: writes.length - written };
  }
  async get(key: string): Promise<StoredRecord | undefined> {
    return this.records.get(key);
  }
}

function record(timestampUs: number, value = "v", writer = "w1"): StoredRecord {
  return {
    value: Buffer.from(value),
    contentType: "text/plain",
    timestampUs,
    writer,
    tombstone: false,
  };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** The replica route wired as node.ts wires it: a real hybrid clock with the allowed offset. */
async function replica() {
  const app = Fastify();
  apps.push(app);
  const store = new MemoryStore();
  const stats = new ReplicaRouteStats();
  const hlc = new HybridClock({ driftUsMax: MAX_OFFSET_US });
  const refused: { origin: string; key: string; timestampUs: number }[] = [];
  registerErrorHandling(app);
  await app.register(replicaRoutes, {
    clusterSecret: null,
    stats,
    deps: {
      store,
      observeTimestamp: (timestampUs) => {
        const outcome = hlc.observe(timestampUs, WALL_US);
        return outcome === "merged" || outcome === "behind";
      },
      onTimestampRefused: (details) => refused.push(details),
    },
  });
  await app.ready();
  const post = async (ops: unknown[]) => {
    const answer = await app.inject({
      method: "POST",
      url: REPLICA_PATH,
      payload: encodePeerBody({ from: "far-ahead", ops }),
      headers: { "content-type": PEER_CONTENT_TYPE },
    });
    expect(answer.statusCode).toBe(200);
    return (decodePeerBody(answer.rawPayload) as { results: unknown[] }).results;
  };
  return { store, stats, refused, post };
}

describe("a replica applying a peer's write", () => {
  it("refuses a record stamped decades ahead, stores nothing, and still applies the other writes of the request", async () => {
    const { store, stats, refused, post } = await replica();
    const results = await post([
      ["w", "future", encodeRecord(record(WALL_US + DECADES_US, "from the future"))],
      ["w", "present", encodeRecord(record(WALL_US, "now"))],
    ]);
    expect(results[0]).toMatchObject({ error: "clock_offset" });
    expect(results[1]).toBe(true);
    expect(store.records.has("future")).toBe(false);
    expect(store.records.get("present")?.timestampUs).toBe(WALL_US);
    expect(stats.timestampsRefused).toBe(1);
    expect(refused).toEqual([
      { origin: "far-ahead", key: "future", timestampUs: WALL_US + DECADES_US },
    ]);
  });

  it("accepts a record within the allowed offset", async () => {
    const { store, post } = await replica();
    const results = await post([
      ["w", "k", encodeRecord(record(WALL_US + MAX_OFFSET_US, "just ahead"))],
    ]);
    expect(results[0]).toBe(true);
    expect(store.records.has("k")).toBe(true);
  });

  it("so a later write of the key is not lost behind a record from the future (the wedge of issue 14)", async () => {
    const { store, post } = await replica();
    await post([["w", "k", encodeRecord(record(WALL_US + DECADES_US, "old"))]]);
    await post([["w", "k", encodeRecord(record(WALL_US + 1, "new"))]]);
    expect(Buffer.from(store.records.get("k")?.value ?? []).toString()).toBe("new");
  });
});

// Every key lands in (100, 200], owned by "b": the preference list is b, c, a.
const RING = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
  ]),
);

function coordinator(
  options: {
    inRange?: () => boolean;
    initialUs?: number;
    transportWrite?: ReplicaTransport["write"];
  } = {},
) {
  const store = new MemoryStore();
  const sent: NodeId[] = [];
  const refusals: string[] = [];
  const transport: ReplicaTransport = {
    write:
      options.transportWrite ??
      (async (to) => {
        sent.push(to);
      }),
    readData: async () => undefined,
    readDigest: async () => null,
  };
  const instance = new Coordinator(
    { self: "a", replicationFactor: 3, requestTimeoutMs: 1_000 },
    {
      cluster: { ring: () => RING, isLive: () => true },
      store,
      transport,
      clock: { schedule: () => () => undefined },
      hlc: new HybridClock({ driftUsMax: MAX_OFFSET_US, initialUs: options.initialUs ?? 0 }),
      wallUs: () => WALL_US,
      tokenOf: () => 150n,
      clockInRange: options.inRange ?? (() => true),
      maxClockOffsetUs: MAX_OFFSET_US,
      onClockRefusal: ({ reason }) => refusals.push(reason),
    },
  );
  return { coordinator: instance, store, sent, refusals };
}

async function failure(promise: Promise<unknown>): Promise<GrapevineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GrapevineError) return error;
    throw error;
  }
  throw new Error("expected the write to fail");
}

const put = (c: Coordinator) =>
  c.write({ key: "k", value: Buffer.from("v"), contentType: "text/plain", level: "quorum" });

describe("a coordinator stamping a client write", () => {
  it("refuses every write while its clock is out of range of most peers: 503 unavailable, reason clock_offset, nothing sent", async () => {
    let inRange = false;
    const { coordinator: c, store, sent, refusals } = coordinator({ inRange: () => inRange });
    const error = await failure(put(c));
    expect(error.code).toBe("unavailable");
    expect(error.details).toMatchObject({ reason: "clock_offset" });
    expect(error.status).toBe(503);
    expect(sent).toEqual([]);
    expect(store.records.size).toBe(0);
    expect(refusals).toEqual(["fenced"]);
    expect(c.stats().clockRefusals).toBe(1);
    // Deletes stamp too.
    expect((await failure(c.delete({ key: "k", level: "one" }))).details).toMatchObject({
      reason: "clock_offset",
    });
    // Reads stamp nothing: still served.
    await expect(c.read({ key: "k", level: "quorum" })).resolves.toMatchObject({
      record: undefined,
    });
    // And once the clock is back in range, writes go through.
    inRange = true;
    await expect(put(c)).resolves.toMatchObject({ acknowledged: 2 });
  });

  it("refuses a write whose hybrid-clock stamp is further ahead of its wall clock than the allowed offset", async () => {
    const { coordinator: c, store, refusals } = coordinator({ initialUs: WALL_US + 3_600_000_000 });
    const error = await failure(put(c));
    expect(error.details).toMatchObject({ reason: "clock_offset" });
    expect(store.records.size).toBe(0);
    expect(refusals).toEqual(["stamp-ahead"]);
  });

  it("is never acknowledged when replicas refuse the stamp, and is indeterminate (504) once a replica stored it", async () => {
    const { coordinator: c } = coordinator({
      transportWrite: async (to) => {
        throw new ReplicaOpRefusedError(to, "clock_offset", `replica ${to} refused: clock_offset`);
      },
    });
    // The coordinator's own replica stored the write before the others refused it: a 503 would
    // tell the client nothing was written (found by the simulator, seed 52404903).
    const error = await failure(put(c));
    expect(error.code).toBe("timeout");
    expect(error.details).toMatchObject({ required: 2 });
    expect(error.details["acknowledged"]).toBeLessThan(2);
  });
});
