import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";
import { storedKeyOf } from "../../../src/storage/bucket-keys.js";
import { scanBucketPage, type BucketScanPage } from "../../../src/storage/bucket-scan.js";
import { TOKEN_MAX } from "../../../src/ring/partitioner.js";
import { tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";

const WHOLE_RING = { start: TOKEN_MAX, end: TOKEN_MAX };
/** The replica's wall clock for the scans: later than every write below. */
const NOW_US = 1_000_000_000;

function value(timestampUs: number): StoredRecord {
  return {
    value: Buffer.from("v"),
    contentType: "text/plain",
    timestampUs,
    writer: "n1",
    tombstone: false,
  };
}

describe("scanBucketPage", () => {
  let dataDir = "";
  let store: LevelStore | null = null;

  afterEach(async () => {
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function storeWith(keys: Record<string, string[]>): Promise<LevelStore> {
    dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-bucket-scan-"));
    store = await openLevelStore({ dataDir, sync: false });
    const writes = Object.entries(keys).flatMap(([bucket, names]) =>
      names.map((key, i) => ({ key: storedKeyOf(bucket, key), record: value(1_000 + i) })),
    );
    await store.apply(writes);
    return store;
  }

  async function pagesOf(
    opened: LevelStore,
    bucket: string,
    keysMax: number,
    visitedMax: number,
    nowUs = NOW_US,
  ): Promise<BucketScanPage[]> {
    const pages: BucketScanPage[] = [];
    let after = null;
    for (;;) {
      const page = await scanBucketPage(
        opened,
        {
          bucket,
          range: WHOLE_RING,
          after,
          keysMax,
          visitedMax,
        },
        nowUs,
      );
      pages.push(page);
      if (page.reached === null) return pages;
      after = page.reached;
    }
  }

  it("pages through exactly the bucket's keys, in token order, however small the pages", async () => {
    const alpha = Array.from({ length: 120 }, (_, i) => `a-${i}`);
    const beta = Array.from({ length: 80 }, (_, i) => `b-${i}`);
    const opened = await storeWith({ alpha, beta, default: ["plain-1", "plain-2"] });
    for (const [keysMax, visitedMax] of [
      [7, 10_000],
      [1_000, 13],
      [3, 5],
    ] as const) {
      const pages = await pagesOf(opened, "alpha", keysMax, visitedMax);
      const entries = pages.flatMap((page) => page.entries);
      expect(entries.map((entry) => entry.key).sort()).toEqual([...alpha].sort());
      const tokens = entries.map((entry) => entry.token);
      expect(tokens).toEqual([...tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      for (const page of pages) {
        expect(page.entries.length).toBeLessThanOrEqual(keysMax);
      }
    }
    const plain = (await pagesOf(opened, "default", 100, 1_000)).flatMap((page) => page.entries);
    expect(plain.map((entry) => entry.key).sort()).toEqual(["plain-1", "plain-2"]);
  });

  it("returns tombstones flagged, with their timestamps, so the merge can drop the key", async () => {
    const opened = await storeWith({ alpha: ["k1", "k2", "k3"] });
    await opened.apply([{ key: storedKeyOf("alpha", "k2"), record: tombstoneRecord(9_999, "n2") }]);
    const entries = (await pagesOf(opened, "alpha", 100, 100)).flatMap((page) => page.entries);
    const k2 = entries.find((entry) => entry.key === "k2");
    expect(k2).toMatchObject({ tombstone: true, timestampUs: 9_999, writer: "n2" });
    expect(
      entries
        .filter((entry) => !entry.tombstone)
        .map((entry) => entry.key)
        .sort(),
    ).toEqual(["k1", "k3"]);
  });

  it("lists a value whose time to live has passed as deleted, keeping its timestamp", async () => {
    const opened = await storeWith({ alpha: ["k1"] });
    await opened.apply([
      { key: storedKeyOf("alpha", "k2"), record: { ...value(5_000), expiresAtUs: 2_000_000 } },
    ]);
    const before = (await pagesOf(opened, "alpha", 100, 100, 1_999_999)).flatMap((p) => p.entries);
    expect(before.find((entry) => entry.key === "k2")).toMatchObject({ tombstone: false });
    const after = (await pagesOf(opened, "alpha", 100, 100, 2_000_000)).flatMap((p) => p.entries);
    expect(after.find((entry) => entry.key === "k2")).toMatchObject({
      tombstone: true,
      timestampUs: 5_000,
    });
    expect(after.find((entry) => entry.key === "k1")).toMatchObject({ tombstone: false });
  });

  it("stops at the records-visited bound even when the bucket has no keys there", async () => {
    const others = Array.from({ length: 50 }, (_, i) => `o-${i}`);
    const opened = await storeWith({ other: others });
    const first = await scanBucketPage(
      opened,
      {
        bucket: "alpha",
        range: WHOLE_RING,
        after: null,
        keysMax: 10,
        visitedMax: 20,
      },
      NOW_US,
    );
    expect(first.entries).toEqual([]);
    expect(first.reached).not.toBeNull();
    expect(first.visited).toBe(20);
    const pages = await pagesOf(opened, "alpha", 10, 20);
    expect(pages.map((page) => page.visited)).toEqual([20, 20, 10]);
    expect(pages.flatMap((page) => page.entries)).toEqual([]);
  });
});
