import { describe, it, expect } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openLevelStore, STORE_DEFAULTS, type Store } from "../../../src/storage/store.js";
import { Level } from "level";
import { namespaceBounds, metaKey } from "../../../src/storage/layout.js";
import { tombstoneRecord } from "../../../src/storage/record.js";
import { SEGMENT_COUNT, SEGMENT_LOG_LIMITS } from "../../../src/storage/segments.js";
import { waitFor } from "../../support/wait-for.js";
import { describeStoreConformance, type StoreHarness } from "./store-conformance.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..", "..");

async function temporaryDataDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "grapevine-store-"));
}

describeStoreConformance("LevelStore", async (): Promise<StoreHarness> => {
  const dataDir = await temporaryDataDir();
  const opened: Store[] = [];
  return {
    async open(options) {
      const store = await openLevelStore(
        {
          dataDir,
          sync: options.sync ?? false,
          tombstoneGraceUs: options.tombstoneGraceUs,
          limits: options.limits,
        },
        { tokenOf: options.tokenOf },
      );
      opened.push(store);
      return store;
    },
    async dispose() {
      for (const store of opened) await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe("LevelStore on disk", () => {
  it("puts its database in <dataDir>/db and refuses a second open of the same directory", async () => {
    const dataDir = await temporaryDataDir();
    try {
      const store = await openLevelStore({
        dataDir: path.join(dataDir, "nested", "node"),
        sync: false,
      });
      await expect(
        openLevelStore({ dataDir: path.join(dataDir, "nested", "node"), sync: false }),
      ).rejects.toThrow(/cannot open the database in .*nested\/node\/db/);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("tells onApply of each apply() as it is made, before its writes commit", async () => {
    const dataDir = await temporaryDataDir();
    try {
      const heard: string[][] = [];
      const store = await openLevelStore(
        { dataDir, sync: false },
        { onApply: (writes) => heard.push(writes.map((write) => write.key)) },
      );
      const record = tombstoneRecord(1_000, "n1");
      const applying = store.apply([
        { key: "a", record },
        { key: "b", record },
      ]);
      // The simulator notes the wall clock here: the commit may land much later on a slow disk.
      expect(heard).toEqual([["a", "b"]]);
      await applying;
      await store.apply([]);
      expect(heard).toEqual([["a", "b"]]);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("answers every read of a turn from one coalesced getMany, more reads than one getMany takes included", async () => {
    const dataDir = await temporaryDataDir();
    const store = await openLevelStore({ dataDir, sync: false });
    try {
      const count = STORE_DEFAULTS.readsPerGetManyMax + 7;
      const record = (index: number) => ({
        value: Buffer.from(`value-${index}`),
        contentType: "text/plain",
        timestampUs: 1_000 + index,
        writer: "n1",
        tombstone: false,
      });
      // Even keys are stored, odd ones are not.
      await store.apply(
        Array.from({ length: count }, (_, index) => index)
          .filter((index) => index % 2 === 0)
          .map((index) => ({ key: `k${index}`, record: record(index) })),
      );
      const read = await Promise.all(
        Array.from({ length: count }, (_, index) => store.get(`k${index}`)),
      );
      read.forEach((found, index) => {
        if (index % 2 === 0)
          expect(found).toMatchObject({
            timestampUs: 1_000 + index,
            value: Buffer.from(`value-${index}`),
          });
        else expect(found).toBeUndefined();
      });
      // A read issued once a write resolved sees it, and reads after close() are refused.
      await store.apply([{ key: "k1", record: record(1) }]);
      await expect(store.get("k1")).resolves.toMatchObject({ timestampUs: 1_001 });
      await store.close();
      await expect(store.get("k1")).rejects.toThrow(/closed/);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  for (const sync of ["off", "on"] as const) {
    it(`keeps every acknowledged write through a SIGKILL of its process (sync ${sync})`, async () => {
      const dataDir = await temporaryDataDir();
      try {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", path.join(HERE, "sigkill-writer.ts"), dataDir, sync],
          {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let lastAcked = -1;
        let output = "";
        let errors = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          for (const match of chunk.matchAll(/acked (\d+)/g))
            lastAcked = Math.max(lastAcked, Number(match[1]));
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (errors += chunk));
        const exited = new Promise<NodeJS.Signals | null>((resolve) =>
          child.on("exit", (_code, signal) => resolve(signal)),
        );
        await waitFor(() => lastAcked >= 30 || child.exitCode !== null, {
          timeoutMs: 30_000,
          what: "30 acknowledged waves",
        });
        expect(child.exitCode, errors).toBeNull();
        child.kill("SIGKILL");
        expect(await exited).toBe("SIGKILL");
        const acked = lastAcked; // nothing is read after the kill

        const store = await openLevelStore({ dataDir, sync: false });
        try {
          for (let wave = 0; wave <= acked; wave++) {
            for (let i = 0; i < 10; i++) {
              const record = await store.get(`wave-${wave}-${i}`);
              expect(
                Buffer.from(record?.value ?? []).toString(),
                `wave ${wave} write ${i} (output: ${output.slice(-200)})`,
              ).toBe(`value-${wave}-${i}`);
            }
          }
          expect(store.load().keys).toBeGreaterThanOrEqual((acked + 1) * 10);
        } finally {
          await store.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});

describe("LevelStore segment log", () => {
  function snapshot(store: {
    segments(): { hashOf(s: number): Buffer; countOf(s: number): number };
  }): string[] {
    const out: string[] = [];
    for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
      const count = store.segments().countOf(segment);
      if (count > 0)
        out.push(`${segment}:${count}:${store.segments().hashOf(segment).toString("hex")}`);
    }
    return out;
  }
  const record = (i: number) => ({
    value: Buffer.from(`v${i}`),
    contentType: "",
    timestampUs: 1 + i,
    writer: "n",
    tombstone: false,
  });

  async function expectSameSegmentsAfterReopen(
    dataDir: string,
    before: readonly string[],
  ): Promise<void> {
    const reopened = await openLevelStore({ dataDir, sync: false });
    try {
      expect(snapshot(reopened)).toEqual(before);
    } finally {
      await reopened.close();
    }
  }

  async function segmentLogLength(dataDir: string): Promise<number> {
    const raw = new Level<Buffer, Buffer>(path.join(dataDir, "db"), {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    try {
      const bounds = namespaceBounds("segments");
      return (await raw.keys({ gte: bounds.gte, lt: bounds.lt }).all()).length;
    } finally {
      await raw.close();
    }
  }

  it("keeps the segment log to about one sweep of entries and reopens with the same hashes", async () => {
    const dataDir = await temporaryDataDir();
    try {
      const store = await openLevelStore({ dataDir, sync: false });
      // One batch per apply: well past one full sweep of the segment log.
      const batches = SEGMENT_LOG_LIMITS.segmentLogEntriesMax + 500;
      for (let i = 0; i < batches; i++) await store.apply([{ key: `key-${i}`, record: record(i) }]);
      const before = snapshot(store);
      expect(before.length).toBeGreaterThan(1000);
      await store.close();
      const entries = await segmentLogLength(dataDir);
      expect(entries).toBeLessThanOrEqual(SEGMENT_LOG_LIMITS.segmentLogEntriesMax + 1);
      expect(entries).toBeLessThan(batches);
      await expectSameSegmentsAfterReopen(dataDir, before);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("replays the swept log right across reopens, overwrites and segments that became empty", async () => {
    const dataDir = await temporaryDataDir();
    try {
      let store = await openLevelStore({ dataDir, sync: false });
      const sweep = SEGMENT_LOG_LIMITS.segmentLogEntriesMax;
      // Keys 0..99 rewritten again and again, 200 more written once, then half of all deleted by a
      // range delete (their segments empty out), across two reopens: one mid-sweep.
      for (let i = 0; i < sweep / 2; i++)
        await store.apply([{ key: `key-${i % 300}`, record: record(i) }]);
      await store.close();
      store = await openLevelStore({ dataDir, sync: false });
      for (let i = sweep / 2; i < sweep + 300; i++)
        await store.apply([{ key: `key-${i % 100}`, record: record(i) }]);
      const removed = await store.deleteRange({ start: 0n, end: 1n << 63n });
      expect(removed).toBeGreaterThan(0);
      for (let i = 0; i < sweep + 10; i++)
        await store.apply([{ key: `key-${i % 50}`, record: record(sweep * 2 + i) }]);
      const before = snapshot(store);
      await store.close();
      expect(await segmentLogLength(dataDir)).toBeLessThanOrEqual(2 * sweep + 2);
      await expectSameSegmentsAfterReopen(dataDir, before);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("rebuilds segment hashes once from the data when a database has none", async () => {
    const dataDir = await temporaryDataDir();
    try {
      const store = await openLevelStore({ dataDir, sync: false });
      await store.apply(
        Array.from({ length: 500 }, (_, i) => ({ key: `key-${i}`, record: record(i) })),
      );
      const before = snapshot(store);
      await store.close();
      // As a database written before segment hashes existed: no log, no marker.
      const raw = new Level<Buffer, Buffer>(path.join(dataDir, "db"), {
        keyEncoding: "buffer",
        valueEncoding: "buffer",
      });
      const bounds = namespaceBounds("segments");
      await raw.clear({ gte: bounds.gte, lt: bounds.lt });
      await raw.del(metaKey("segments"));
      await raw.close();
      await expectSameSegmentsAfterReopen(dataDir, before);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
