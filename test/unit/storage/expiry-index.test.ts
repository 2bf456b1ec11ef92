// The expiry index (storage/expiry-index.ts) and the purge of expired records
// (storage/expiry-purge.ts) on a real LevelStore: one index entry per expiring record, kept in the
// record's batch through overwrites (row cache warm or cold), deletes and range deletes; the purge
// walks it, drops records expired longer than the grace period and nothing else, and clears entries
// that name no such record.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Level } from "level";
import { afterEach, describe, expect, it } from "vitest";
import { decodeExpiryIndexKey, expiryIndexKey } from "../../../src/storage/expiry-index.js";
import { encodeDataKey, namespaceBounds } from "../../../src/storage/layout.js";
import { tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";
import type { Database } from "../../../src/storage/store-state.js";
import { TOKEN_MAX } from "../../../src/ring/partitioner.js";

const GRACE_US = 1_000;
/** Every key on token 7: the data keys are predictable and a range delete takes them all. */
const tokenOf = (): bigint => 7n;

interface Opened {
  readonly store: LevelStore;
  readonly db: Database;
}

const dirs: string[] = [];
const stores: LevelStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function open(dataDir?: string): Promise<Opened & { dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), "grapevine-expiry-")));
  if (dataDir === undefined) dirs.push(dir);
  let db: Database | null = null;
  const store = await openLevelStore(
    { dataDir: dir, sync: false, tombstoneGraceUs: GRACE_US },
    {
      tokenOf,
      openDatabase: (location) => {
        db = new Level<Buffer, Buffer>(location, {
          keyEncoding: "buffer",
          valueEncoding: "buffer",
        });
        return db;
      },
    },
  );
  stores.push(store);
  return { store, db: db as unknown as Database, dataDir: dir };
}

async function closeAll(): Promise<void> {
  for (const store of stores.splice(0)) await store.close();
}

function value(timestampUs: number, expiresAtUs?: number): StoredRecord {
  const record = {
    value: Buffer.from(`v${timestampUs}`),
    contentType: "text/plain",
    timestampUs,
    writer: "n1",
    tombstone: false,
  };
  return expiresAtUs === undefined ? record : { ...record, expiresAtUs };
}

/** The index as (key, expiresAtUs) pairs, in index order. */
async function indexOf(db: Database): Promise<[string, number][]> {
  const bounds = namespaceBounds("expiry");
  const entries: [string, number][] = [];
  for await (const indexKey of db.keys({ gte: bounds.gte, lt: bounds.lt })) {
    const { expiresAtUs, dataKey } = decodeExpiryIndexKey(indexKey);
    entries.push([dataKey.toString("utf8", 9), expiresAtUs]);
  }
  return entries;
}

describe("the expiry index", () => {
  it("holds one entry per expiring record, in expiry order, following every overwrite", async () => {
    const { store, db, dataDir } = await open();
    await store.apply([
      { key: "late", record: value(10, 9_000) },
      { key: "soon", record: value(10, 2_000) },
      { key: "never", record: value(10) },
    ]);
    expect(await indexOf(db)).toEqual([
      ["soon", 2_000],
      ["late", 9_000],
    ]);
    // Overwrites with the row cache warm: a new expiry moves the entry, none or a delete drops it.
    await store.apply([
      { key: "soon", record: value(20, 5_000) },
      { key: "late", record: value(20) },
      { key: "never", record: value(20, 7_000) },
    ]);
    expect(await indexOf(db)).toEqual([
      ["soon", 5_000],
      ["never", 7_000],
    ]);
    // An older version loses and leaves the index alone.
    await store.apply([{ key: "soon", record: value(15, 3_000) }]);
    expect(await indexOf(db)).toEqual([
      ["soon", 5_000],
      ["never", 7_000],
    ]);
    // Cold: after a reopen the replaced versions are read from disk.
    await closeAll();
    const reopened = await open(dataDir);
    await reopened.store.apply([
      { key: "soon", record: tombstoneRecord(30, "n1") },
      { key: "never", record: value(30, 8_000) },
    ]);
    expect(await indexOf(reopened.db)).toEqual([["never", 8_000]]);
    expect(await reopened.store.deleteRange({ start: 0n, end: TOKEN_MAX })).toBe(3);
    expect(await indexOf(reopened.db)).toEqual([]);
  });

  it("purges records expired longer than the grace period, and nothing else", async () => {
    const { store, db } = await open();
    await store.apply([
      { key: "expired", record: value(10, 2_000) },
      { key: "fresh", record: value(10, 5_000) },
      { key: "forever", record: value(10) },
    ]);
    // Expired, but not for longer than the grace period yet (nowUs - expiresAtUs > graceUs).
    expect(await store.purgeTombstones(2_000 + GRACE_US)).toBe(0);
    expect(await store.purgeTombstones(2_000 + GRACE_US + 1)).toBe(1);
    expect(await store.get("expired")).toBeUndefined();
    expect((await store.get("fresh"))?.expiresAtUs).toBe(5_000);
    expect((await store.get("forever"))?.timestampUs).toBe(10);
    expect(await indexOf(db)).toEqual([["fresh", 5_000]]);
    expect(store.load()).toMatchObject({ keys: 2, tombstones: 0 });
    expect(store.counters().tombstonesPurged).toBe(1);
    expect(await store.purgeTombstones(1_000_000)).toBe(1);
    expect(await indexOf(db)).toEqual([]);
    expect(store.load()).toMatchObject({ keys: 1, tombstones: 0 });
  });

  it("drops index entries that name no record of that expiry, without deleting data", async () => {
    const { store, db } = await open();
    await store.apply([{ key: "kept", record: value(10) }]);
    // Left behind, as by an unreadable record replaced: one names a missing key, one a record
    // that does not expire.
    await db.batch([
      { type: "put", key: expiryIndexKey(100, encodeDataKey(7n, "gone")), value: Buffer.alloc(0) },
      { type: "put", key: expiryIndexKey(100, encodeDataKey(7n, "kept")), value: Buffer.alloc(0) },
    ]);
    expect(await store.purgeTombstones(1_000_000)).toBe(0);
    expect(await indexOf(db)).toEqual([]);
    expect((await store.get("kept"))?.timestampUs).toBe(10);
  });
});
