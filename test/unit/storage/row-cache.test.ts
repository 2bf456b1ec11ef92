import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  RowCache,
  ROW_CACHE_ENTRY_OVERHEAD_BYTES,
  type CachedRow,
} from "../../../src/storage/row-cache.js";
import { openLevelStore, type LevelStore, type Store } from "../../../src/storage/store.js";
import { SEGMENT_COUNT } from "../../../src/storage/segments.js";
import type { StoredRecord } from "../../../src/storage/record.js";

const entryCost = (key: string, valueBytes: number): number =>
  key.length * 2 + valueBytes + ROW_CACHE_ENTRY_OVERHEAD_BYTES;
const row = (bytes: Uint8Array): CachedRow => ({
  bytes,
  timestampUs: 1,
  writer: "n",
  tombstone: false,
  hash: null,
});

describe("RowCache", () => {
  it("returns what was set, as a copy the caller cannot change afterwards", () => {
    const cache = new RowCache(10_000);
    const bytes = Uint8Array.from([1, 2, 3]);
    cache.set("a", row(bytes));
    bytes[0] = 9;
    expect([...(cache.get("a")?.bytes ?? [])]).toEqual([1, 2, 3]);
    expect(cache.get("b")).toBeUndefined();
    cache.delete("a");
    expect(cache.get("a")).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, entries: 0, bytes: 0 });
  });

  it("copies a view of a larger buffer into memory of its own, so an entry pins nothing else", () => {
    const cache = new RowCache(10_000);
    // What msgpackr and classic-level hand out: Buffers that are views into a larger shared buffer.
    const shared = Buffer.alloc(8_192, 1);
    const view = shared.subarray(100, 110);
    cache.set("a", row(view));
    shared.fill(2);
    const cached = cache.get("a")?.bytes;
    expect([...(cached ?? [])]).toEqual(new Array(10).fill(1));
    expect(cached?.buffer.byteLength).toBe(10);
  });

  it("evicts the least recently used entries to stay within its bytes", () => {
    const cache = new RowCache(3 * entryCost("k0", 10));
    for (const key of ["k0", "k1", "k2"]) cache.set(key, row(new Uint8Array(10)));
    cache.get("k0"); // k1 is now the least recently used
    cache.set("k3", row(new Uint8Array(10)));
    expect(cache.get("k1")).toBeUndefined();
    expect(cache.get("k0")).toBeDefined();
    expect(cache.get("k2")).toBeDefined();
    expect(cache.get("k3")).toBeDefined();
    expect(cache.stats()).toMatchObject({
      evictions: 1,
      entries: 3,
      bytes: 3 * entryCost("k0", 10),
    });
  });

  it("peek answers like get but leaves the order of eviction alone", () => {
    const cache = new RowCache(3 * entryCost("k0", 10));
    for (const key of ["k0", "k1", "k2"]) cache.set(key, row(new Uint8Array(10)));
    expect(cache.peek("k0")?.bytes).toHaveLength(10);
    expect(cache.peek("nope")).toBeUndefined();
    cache.set("k3", row(new Uint8Array(10))); // k0 is still the least recently used
    expect(cache.peek("k0")).toBeUndefined();
    expect(cache.peek("k1")).toBeDefined();
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, evictions: 1, entries: 3 });
  });

  it("replaces an entry's bytes and cost, and never caches an entry larger than its bound", () => {
    const cache = new RowCache(entryCost("k", 100));
    cache.set("k", row(new Uint8Array(10)));
    cache.set("k", row(new Uint8Array(100)));
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: entryCost("k", 100) });
    cache.set("big", row(new Uint8Array(1_000)));
    expect(cache.get("big")).toBeUndefined();
    expect(cache.stats().bytes).toBeLessThanOrEqual(entryCost("k", 100));
  });
});

// The store with its row cache must answer exactly as the store without one (a cache too small to
// hold a record), whatever the interleaving of writes, reads, range deletes and purges. Within a
// group, writes and reads start in the same turn, so the writes form one batch that reads race; a
// range delete or a purge runs alone (its order against concurrent writes is not fixed, with or
// without a cache). One race this rarely reaches: a read that misses, reads LevelDB before a
// batch's write lands and returns after the batch committed; the store's commit counter keeps that
// read from caching what it found (store.ts get()).
type Access =
  | {
      readonly kind: "write";
      readonly key: number;
      readonly timestampUs: number;
      readonly tombstone: boolean;
      readonly value: number;
    }
  /**
   * A read starts `turns` event-loop turns after its group, so some land while the batch is being
   * written.
   */
  | { readonly kind: "read"; readonly key: number; readonly turns: number };
type Group = readonly Access[] | "deleteRange" | "purge";

const KEYS = 12;
const access: fc.Arbitrary<Access> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      key: fc.nat(KEYS - 1),
      timestampUs: fc.integer({ min: 1, max: 40 }),
      tombstone: fc.boolean(),
      value: fc.nat(1_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      key: fc.nat(KEYS - 1),
      turns: fc.nat(4),
    }),
  },
);
const group: fc.Arbitrary<Group> = fc.oneof(
  { weight: 8, arbitrary: fc.array(access, { minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constant("deleteRange" as const) },
  { weight: 1, arbitrary: fc.constant("purge" as const) },
);

const recordOf = (write: Extract<Access, { kind: "write" }>): StoredRecord => ({
  value: write.tombstone ? Buffer.alloc(0) : Buffer.from(`v${write.value}`),
  contentType: write.tombstone ? "" : "text/plain",
  timestampUs: write.timestampUs,
  writer: "n1",
  tombstone: write.tombstone,
});

const show = (record: StoredRecord | undefined): string =>
  record === undefined
    ? "absent"
    : `${record.timestampUs}/${record.tombstone ? "tombstone" : Buffer.from(record.value).toString()}`;

async function readAfter(
  store: Store,
  read: Extract<Access, { kind: "read" }>,
): Promise<StoredRecord | undefined> {
  for (let turn = 0; turn < read.turns; turn++)
    await new Promise((resolve) => setImmediate(resolve));
  return store.get(`key-${read.key}`);
}

/**
 * Runs the groups; returns what a store must agree on: each group's results and every key's value
 * after it, then the segment hashes. A read racing a write of its key may see the key before or
 * after the batch; that it saw one of the two is checked here, and it is left out of the result.
 */
async function run(store: Store, groups: readonly Group[]): Promise<unknown[]> {
  const seen: unknown[] = [];
  const snapshot = async (): Promise<string[]> =>
    Promise.all(
      Array.from({ length: KEYS }, async (_, key) => show(await store.get(`key-${key}`))),
    );
  let before = await snapshot();
  for (const one of groups) {
    if (one === "deleteRange") {
      // Half the ring: the keys whose token is below 2^63.
      seen.push(await store.deleteRange({ start: (1n << 64n) - 1n, end: (1n << 63n) - 1n }));
    } else if (one === "purge") {
      seen.push(await store.purgeTombstones(100, 80));
    } else {
      const written = new Set(one.filter((a) => a.kind === "write").map((a) => a.key));
      const results = await Promise.all(
        one.map(async (a) =>
          a.kind === "write"
            ? (await store.apply([{ key: `key-${a.key}`, record: recordOf(a) }])).written
            : show(await readAfter(store, a)),
        ),
      );
      const after = await snapshot();
      one.forEach((a, index) => {
        if (a.kind === "read" && written.has(a.key)) {
          expect([before[a.key], after[a.key]]).toContain(results[index]);
          results[index] = "raced";
        }
      });
      seen.push(results);
    }
    before = await snapshot();
    seen.push(before);
  }
  const hashes: string[] = [];
  const segments = store.segments();
  for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
    if (segments.countOf(segment) > 0)
      hashes.push(`${segment}:${segments.hashOf(segment).toString("hex")}`);
  }
  seen.push(hashes);
  return seen;
}

describe("LevelStore with its row cache", () => {
  it("answers every interleaving of writes, reads, range deletes and purges as the store without one", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "grapevine-row-cache-"));
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(group, { minLength: 1, maxLength: 14 }), async (groups) => {
          runs++;
          const open = (name: string, rowCacheBytesMax: number): Promise<LevelStore> =>
            openLevelStore({
              dataDir: path.join(root, `${name}-${runs}`),
              sync: false,
              limits: { rowCacheBytesMax },
            });
          const uncached = await open("uncached", 1);
          // A large cache, and one of about three records that evicts all the time (reads miss and
          // race).
          const cached = await open("cached", 1 << 20);
          const tiny = await open("tiny", 3 * (ROW_CACHE_ENTRY_OVERHEAD_BYTES + 60));
          try {
            const expected = await run(uncached, groups);
            expect(await run(cached, groups)).toEqual(expected);
            expect(await run(tiny, groups)).toEqual(expected);
            expect(uncached.counters().rowCache.entries).toBe(0);
          } finally {
            await Promise.all([uncached.close(), cached.close(), tiny.close()]);
          }
        }),
        { numRuns: 25 },
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("serves repeated reads and overwrites from memory", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-row-cache-"));
    const store = await openLevelStore({ dataDir, sync: false });
    try {
      const record = (timestampUs: number): StoredRecord => ({
        value: Buffer.from("x"),
        contentType: "",
        timestampUs,
        writer: "n",
        tombstone: false,
      });
      await store.apply([{ key: "k", record: record(1) }]);
      const missesAfterFirstWrite = store.counters().rowCache.misses;
      await store.apply([{ key: "k", record: record(2) }]);
      expect((await store.get("k"))?.timestampUs).toBe(2);
      expect(store.counters().rowCache.misses).toBe(missesAfterFirstWrite);
      expect(store.counters().rowCache.hits).toBe(2);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
