// A repair session between two real stores, over the real repair route (fastify inject, no
// sockets): the same code paths as two nodes, in one process.

import { afterEach, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { RepairSession, type RepairTransport } from "../../../src/antientropy/repair-session.js";
import type { PeerHttp } from "../../../src/net/peer-http.js";
import { RepairClient } from "../../../src/net/repair-client.js";
import { RepairRouteStats, repairRoutes } from "../../../src/net/repair-routes.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import {
  tombstoneRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";
import { createRandom, randomInt } from "../../../src/core/random.js";

const SEED = 77_001;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

/** Keys crowded into four segments (1,250 records a leaf): the leaf-bucket path. */
function crowdedTokenOf(key: string): bigint {
  const token = tokenOf(key);
  return (token & ((1n << 48n) - 1n)) | ((token >> 62n) << 48n);
}

async function openStore(keyToken: (key: string) => bigint = tokenOf): Promise<LevelStore> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-repair-"));
  const store = await openLevelStore({ dataDir, sync: false }, { tokenOf: keyToken });
  cleanup.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return store;
}

/**
 * A RepairTransport whose "peer" is a fastify app serving the real repair route over `peerStore`.
 */
async function transportTo(
  peerStore: LevelStore,
): Promise<{ transport: RepairTransport; app: FastifyInstance }> {
  const app = Fastify();
  await app.register(repairRoutes, {
    clusterSecret: null,
    stats: new RepairRouteStats(),
    deps: { store: peerStore, observeTimestamp: () => true },
  });
  await app.ready();
  cleanup.push(() => app.close());
  // The real client's encoding, decoding and checks, over a PeerHttp that delivers through inject.
  const http: PeerHttp = {
    request: async (_address, request) => {
      const response = await app.inject({
        method: request.method,
        url: request.path,
        headers: { ...request.headers },
        payload: request.body,
      });
      if (response.statusCode !== 200)
        throw new Error(`repair route answered ${response.statusCode}: ${response.body}`);
      return { statusCode: response.statusCode, body: response.rawPayload };
    },
    forget: () => undefined,
    close: async () => undefined,
  };
  const transport = new RepairClient(
    { self: "a", clusterSecret: null },
    { addressOf: () => "127.0.0.1:1", http },
  );
  return { transport, app };
}

function live(i: number, version: number): StoredRecord {
  return {
    value: Buffer.from(`value-${i}-${version}`),
    contentType: "text/plain",
    timestampUs: 1_000_000 + i * 10 + version,
    writer: "w",
    tombstone: false,
  };
}

async function contents(store: LevelStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const { key, record } of store.scanRange({ start: 0n, end: 0n })) {
    out.set(
      key,
      `${record.timestampUs}:${record.tombstone}:${Buffer.from(record.value).toString()}`,
    );
  }
  return out;
}

describe("repair session", () => {
  it.each([
    [
      "keys spread over the ring",
      tokenOf,
      [
        { start: 0n, end: 2n ** 62n },
        { start: 2n ** 62n, end: 2n ** 63n + 12_345n },
        { start: 2n ** 63n + 12_345n, end: 0n },
      ],
    ],
    [
      "keys crowded into four segments",
      crowdedTokenOf,
      [
        { start: 0n, end: 2n ** 49n },
        { start: 2n ** 49n, end: 2n ** 63n },
        { start: 2n ** 63n, end: 0n },
      ],
    ],
  ] as const)(
    "converges two replicas with missing, older and deleted keys on both sides, tombstones included: %s",
    async (_what, keyToken, rangeList) => {
      const a = await openStore(keyToken);
      const b = await openStore(keyToken);
      const random = createRandom(SEED);
      console.log(`repair session seed ${SEED}`);
      const count = 5_000;
      const base: KeyedRecord[] = Array.from({ length: count }, (_, i) => ({
        key: `k${i}`,
        record: live(i, 1),
      }));
      await a.apply(base);
      await b.apply(base);
      const diverge = async (store: LevelStore, kind: number, i: number): Promise<void> => {
        const key = `k${i}`;
        if (kind === 0) {
          const token = keyToken(key);
          await store.deleteRange({ start: token - 1n, end: token });
        } else if (kind === 1) {
          await store.apply([{ key, record: live(i, 2) }]);
        } else {
          await store.apply([{ key, record: tombstoneRecord(1_000_000 + i * 10 + 3, "w") }]);
        }
      };
      for (let n = 0; n < 300; n++)
        await diverge(a, randomInt(random, 3), randomInt(random, count));
      for (let n = 0; n < 300; n++)
        await diverge(b, randomInt(random, 3), randomInt(random, count));
      const { transport } = await transportTo(b);
      const ranges = [...rangeList];
      const dry = await new RepairSession(
        { id: "s1", peer: "b", ranges, dryRun: true },
        { store: a, transport, pace: async () => undefined },
      ).run();
      expect(dry.rangesDiffering).toBeGreaterThanOrEqual(1);
      expect(dry.keysSent + dry.keysReceived).toBeGreaterThan(0);
      expect(await contents(a)).not.toEqual(await contents(b));

      const summary = await new RepairSession(
        { id: "s2", peer: "b", ranges, dryRun: false, window: 1 },
        { store: a, transport, pace: async () => undefined },
      ).run();
      expect(summary.keysSent).toBe(dry.keysSent);
      expect(summary.keysReceived).toBeLessThanOrEqual(dry.keysReceived);
      expect(await contents(a)).toEqual(await contents(b));
      // The same ranges again: roots only.
      const again = await new RepairSession(
        { id: "s3", peer: "b", ranges, dryRun: false, window: 3 },
        { store: a, transport, pace: async () => undefined },
      ).run();
      expect(again).toMatchObject({
        rangesCompared: 3,
        rangesDiffering: 0,
        keysSent: 0,
        keysReceived: 0,
        roundTrips: 1,
      });
      expect(again.bytesSent + again.bytesReceived).toBeLessThan(200);
    },
  );
});
