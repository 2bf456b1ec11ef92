import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { openIdentity } from "../../../src/node/identity.js";
import { DeadProcessError, SimDisk, type SimDiskOptions } from "../../../src/sim/sim-disk.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { StateFileSyntaxError } from "../../../src/storage/state-files.js";
import type { StoredRecord } from "../../../src/storage/record.js";
import type { Database } from "../../../src/storage/store-state.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";
import { readRingState, writeRingState } from "../../../src/topology/ring-state.js";

interface TestDisk {
  readonly clock: VirtualClock;
  readonly disk: SimDisk;
}

function makeDisk(seed = 1, options: Partial<SimDiskOptions> = {}): TestDisk {
  const clock = new VirtualClock();
  return { clock, disk: new SimDisk({ clock, random: createRandom(seed), ...options }) };
}

async function openDb(disk: SimDisk): Promise<Database> {
  const db = disk.openDatabase();
  await db.open();
  return db;
}

function openStore(disk: SimDisk, sync = false): Promise<LevelStore> {
  const openDatabase = (): Database => disk.openDatabase();
  return openLevelStore({ dataDir: "/sim/node", sync }, { openDatabase });
}

const bytes = (text: string): Buffer => Buffer.from(text);

function record(value: string, timestampUs = 1): StoredRecord {
  const contentType = "text/plain";
  return { value: Buffer.from(value), contentType, timestampUs, writer: "n1", tombstone: false };
}

/** Writes `count` batches, batch i putting a/i and b/i, acknowledged one after the other. */
async function writeBatches(
  db: Database,
  count: number,
  sync: (index: number) => boolean = () => false,
): Promise<void> {
  for (let index = 0; index < count; index++) {
    const operations = [
      { type: "put" as const, key: bytes(`a/${index}`), value: bytes(`${index}`) },
      { type: "put" as const, key: bytes(`b/${index}`), value: bytes(`${index}`) },
    ];
    await db.batch(operations, { sync: sync(index) } as object);
  }
}

/** How many batches of writeBatches survived, checking that they are whole and a prefix. */
async function survivingPrefix(db: Database, count: number): Promise<number> {
  const read = (prefix: string): Promise<(Buffer | undefined)[]> =>
    db.getMany(Array.from({ length: count }, (_, i) => bytes(`${prefix}/${i}`)));
  const a = await read("a");
  const b = await read("b");
  const present = a.map((value, index) => {
    expect(value === undefined, `batch ${index} is torn`).toBe(b[index] === undefined);
    return value !== undefined;
  });
  const kept = present.indexOf(false) === -1 ? count : present.indexOf(false);
  expect(
    present.slice(kept).every((value) => !value),
    "the survivors are not a prefix",
  ).toBe(true);
  return kept;
}

function nextTurns(turns = 3): Promise<void> {
  return (async () => {
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  })();
}

describe("SimDisk crashes", () => {
  it("keeps every acknowledged write across a kill, sync off", async () => {
    const { disk } = makeDisk();
    const db = await openDb(disk);
    await writeBatches(db, 200);
    await db.put(bytes("single"), bytes("x"));
    disk.kill();
    const after = await openDb(disk);
    expect(await survivingPrefix(after, 200)).toBe(200);
    expect(await after.get(bytes("single"))).toEqual(bytes("x"));
    expect(disk.counters()).toMatchObject({ kills: 1, batchesWritten: 201, batchesLost: 0 });
  });

  it("loses a suffix of whole batches to a power loss (sync off), the seed choosing", async () => {
    const keptBySeed: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const { disk } = makeDisk(seed);
      await writeBatches(await openDb(disk), 50);
      disk.powerLoss();
      const kept = await survivingPrefix(await openDb(disk), 50);
      expect(disk.counters().batchesLost).toBe(50 - kept);
      keptBySeed.push(kept);
    }
    expect(keptBySeed.some((kept) => kept < 50)).toBe(true);
    expect(new Set(keptBySeed).size).toBeGreaterThan(1);

    for (const seed of [3, 7]) {
      const { disk } = makeDisk(seed);
      await writeBatches(await openDb(disk), 50);
      disk.powerLoss();
      expect(await survivingPrefix(await openDb(disk), 50)).toBe(keptBySeed[seed - 1]);
    }
  });

  it("loses nothing acknowledged with sync on; a synced batch makes older ones last", async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { disk } = makeDisk(seed);
      await writeBatches(await openDb(disk), 30, () => true);
      disk.powerLoss();
      expect(await survivingPrefix(await openDb(disk), 30)).toBe(30);
    }
    for (let seed = 1; seed <= 10; seed++) {
      const { disk } = makeDisk(seed);
      await writeBatches(await openDb(disk), 30, (index) => index === 19);
      disk.powerLoss();
      expect(await survivingPrefix(await openDb(disk), 30)).toBeGreaterThanOrEqual(20);
    }
  });

  it("keeps what the kernel wrote back: batches older than writebackAfterMs survive", async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { clock, disk } = makeDisk(seed, { writebackAfterMs: 1_000 });
      const db = await openDb(disk);
      await writeBatches(db, 10);
      clock.runFor(1_000);
      disk.powerLoss();
      expect(await survivingPrefix(await openDb(disk), 10)).toBe(10);
    }
  });

  it("keeps unsynced batches losable after a kill: the page cache is not the disk", async () => {
    const lost: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const { disk } = makeDisk(seed);
      await writeBatches(await openDb(disk), 20);
      disk.kill();
      await openDb(disk);
      disk.powerLoss();
      lost.push(20 - (await survivingPrefix(await openDb(disk), 20)));
    }
    expect(lost.some((count) => count > 0)).toBe(true);
  });

  it("bounds the batches at risk, writing the oldest back", async () => {
    const { disk } = makeDisk(1, { unsyncedBatchesMax: 8 });
    await writeBatches(await openDb(disk), 40);
    expect(disk.counters().batchesUnsynced).toBeLessThanOrEqual(8);
    disk.powerLoss();
    expect(await survivingPrefix(await openDb(disk), 40)).toBeGreaterThanOrEqual(32);
  });

  it("kills the old handle: writes, reads and open iterators fail, changing nothing", async () => {
    const { disk } = makeDisk();
    const db = await openDb(disk);
    await db.put(bytes("k1"), bytes("v1"));
    await db.put(bytes("k2"), bytes("v2"));
    const iterator = db.iterator();
    expect(await iterator.next()).toEqual([bytes("k1"), bytes("v1")]);
    disk.kill();
    await expect(db.put(bytes("k3"), bytes("v3"))).rejects.toThrow(DeadProcessError);
    await expect(db.batch([{ type: "del", key: bytes("k1") }])).rejects.toThrow(DeadProcessError);
    await expect(db.get(bytes("k1"))).rejects.toThrow(DeadProcessError);
    await expect(iterator.next()).rejects.toThrow(DeadProcessError);
    const after = await openDb(disk);
    expect(await after.keys().all()).toEqual([bytes("k1"), bytes("k2")]);
    expect(disk.counters().deadHandleRefusals).toBeGreaterThanOrEqual(4);
  });

  it("clears a range in one batch, kept across a kill and a reopen of the handle", async () => {
    const { disk } = makeDisk();
    const db = await openDb(disk);
    for (const key of ["a", "b", "c"]) await db.put(bytes(key), bytes(key));
    await db.clear({ gte: bytes("b") });
    expect(await db.keys().all()).toEqual([bytes("a")]);
    await db.close();
    const other = await openDb(disk);
    await other.put(bytes("d"), bytes("d"));
    await other.close();
    await db.open();
    expect(await db.keys().all()).toEqual([bytes("a"), bytes("d")]);
    disk.kill();
    expect(await (await openDb(disk)).keys().all()).toEqual([bytes("a"), bytes("d")]);
  });

  it("refuses a second open while a handle holds the database (LevelDB's LOCK)", async () => {
    const { disk } = makeDisk();
    const first = await openDb(disk);
    await expect(openDb(disk)).rejects.toThrow();
    await first.close();
    await openDb(disk);
  });

  it("restarts the store on the same disk with a killed node's acknowledged writes", async () => {
    const { disk } = makeDisk();
    const store = await openStore(disk);
    await store.apply([
      { key: "a", record: record("1") },
      { key: "b", record: record("2") },
    ]);
    disk.kill();
    const late = store.apply([{ key: "c", record: record("3") }]);
    await expect(late).rejects.toThrow(DeadProcessError);
    const restarted = await openStore(disk);
    expect((await restarted.get("a"))?.value).toEqual(bytes("1"));
    expect(await restarted.get("c")).toBeUndefined();
    expect(restarted.load().keys).toBe(2);
    await restarted.close();
  });

  it("loses no write a store with sync on acknowledged, whatever the seed", async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { disk } = makeDisk(seed);
      const store = await openStore(disk, true);
      for (let index = 0; index < 20; index++) {
        await store.apply([{ key: `k${index}`, record: record(`${index}`) }]);
      }
      expect(disk.counters().batchesSynced).toBeGreaterThanOrEqual(20);
      disk.powerLoss();
      await store.close().catch(() => undefined);
      const restarted = await openStore(disk, true);
      expect(restarted.load().keys).toBe(20);
      expect((await restarted.get("k19"))?.value).toEqual(bytes("19"));
      await restarted.close();
    }
  });

  it("lets a killed node's store close without hanging or writing", async () => {
    const { disk } = makeDisk();
    const store = await openStore(disk);
    await store.apply([{ key: "a", record: record("1") }]);
    const late = store.apply([{ key: "b", record: record("2") }]);
    disk.kill();
    await expect(late).rejects.toThrow(DeadProcessError);
    await store.close();
    const restarted = await openStore(disk);
    expect(await restarted.get("b")).toBeUndefined();
    await restarted.close();
  });

  it("keeps a killed node's hints, in order, for the next process", async () => {
    const { disk } = makeDisk();
    const store = await openStore(disk);
    const hints = await store.openHints();
    for (const [index, key] of ["h1", "h2"].entries()) {
      const encodedRecord = new Uint8Array(10).fill(7);
      await hints.append({ target: "n2", key, encodedRecord, createdMs: index });
    }
    disk.kill();
    const restarted = await openStore(disk);
    const after = await restarted.openHints();
    expect(after.pending().get("n2")?.count).toBe(2);
    expect((await after.scan("n2")).map((entry) => entry.key)).toEqual(["h1", "h2"]);
    await restarted.close();
  });
});

describe("SimDisk faults", () => {
  it("refuses writes with ENOSPC while full, reads working, and writes once freed", async () => {
    const { disk } = makeDisk();
    const store = await openStore(disk);
    await store.apply([{ key: "a", record: record("1") }]);
    disk.setFull(true);
    const refused = store.apply([{ key: "b", record: record("2") }]);
    await expect(refused).rejects.toMatchObject({ code: "ENOSPC" });
    expect((await store.get("a"))?.value).toEqual(bytes("1"));
    await expect(disk.files.write("ring.json", "{}")).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await disk.files.read("ring.json")).toBeUndefined();
    disk.setFull(false);
    await store.apply([{ key: "b", record: record("2") }]);
    expect((await store.get("b"))?.value).toEqual(bytes("2"));
    await store.close();
    expect(disk.counters().writesRefusedFull).toBe(2);

    const db = await openDb(disk);
    disk.setFull(true);
    await expect(db.put(bytes("raw"), bytes("x"))).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await db.get(bytes("raw"))).toBeUndefined();
  });

  it("acknowledges writes on a slow disk after the (virtual) delay, in call order", async () => {
    const { clock, disk } = makeDisk();
    const db = await openDb(disk);
    disk.setWriteDelayMs(50);
    const done: string[] = [];
    const first = db.put(bytes("k"), bytes("first")).then(() => done.push("first"));
    const second = db.put(bytes("k"), bytes("second")).then(() => done.push("second"));
    await nextTurns();
    clock.runFor(49);
    await nextTurns();
    expect(done).toEqual([]);
    expect(await db.get(bytes("k"))).toBeUndefined();
    clock.runFor(1);
    await Promise.all([first, second]);
    expect(done).toEqual(["first", "second"]);
    expect(await db.get(bytes("k"))).toEqual(bytes("second"));
    expect(disk.counters().writesDelayed).toBe(2);

    disk.setWriteDelayMs(0);
    disk.setReadDelayMs(20);
    let read: Buffer | undefined;
    const reading = db.get(bytes("k")).then((value) => (read = value));
    await nextTurns();
    expect(read).toBeUndefined();
    clock.runFor(20);
    await reading;
    expect(read).toEqual(bytes("second"));
  });

  it("delays a store's apply on a slow disk until the virtual clock moves", async () => {
    const { clock, disk } = makeDisk();
    const store = await openStore(disk);
    disk.setWriteDelayMs(100);
    let acknowledged = false;
    const applying = store.apply([{ key: "a", record: record("1") }]).then(() => {
      acknowledged = true;
    });
    await nextTurns(5);
    expect(acknowledged).toBe(false);
    clock.runFor(100);
    await applying;
    expect(acknowledged).toBe(true);
  });

  it("drops a delayed write whose process died before it landed", async () => {
    const { clock, disk } = makeDisk();
    const db = await openDb(disk);
    disk.setWriteDelayMs(10);
    const writing = db.put(bytes("k"), bytes("v"));
    await nextTurns();
    disk.kill();
    clock.runFor(10);
    await expect(writing).rejects.toThrow(DeadProcessError);
    disk.setWriteDelayMs(0);
    expect(await (await openDb(disk)).get(bytes("k"))).toBeUndefined();
  });
});

describe("SimDisk state files", () => {
  it("keeps state files across a kill and a power loss", async () => {
    const { disk } = makeDisk();
    await writeRingState("/sim/node", { status: "joining", tokens: [1n, 2n] }, disk.files);
    disk.kill();
    const ring = await readRingState("/sim/node", disk.files);
    expect(ring).toEqual({ status: "joining", tokens: [1n, 2n] });
    await disk.files.write("peers.json", JSON.stringify({ format: 1, peers: ["n2"] }));
    disk.powerLoss();
    expect(await disk.files.read("peers.json")).toEqual({ format: 1, peers: ["n2"] });
    expect(await disk.files.read("node.json")).toBeUndefined();
  });

  it("holds the node's identity: a restart reads it back with a newer generation", async () => {
    const { disk } = makeDisk();
    const files = disk.files;
    const options = { dataDir: "/sim/n1", id: "n1", idExplicit: true, vnodes: 4, files };
    const first = await openIdentity({ ...options, nowMs: 1_000 });
    disk.powerLoss();
    const second = await openIdentity({ ...options, nowMs: 1_000 });
    const expected = { id: "n1", tokens: first.tokens, generation: 1_001, created: false };
    expect(second).toMatchObject(expected);
  });

  it("gives a process its own view of the state files, dead with it", async () => {
    const { disk } = makeDisk();
    const files = disk.openFiles();
    await files.write("ring.json", "1");
    disk.kill();
    await expect(files.write("ring.json", "2")).rejects.toThrow(DeadProcessError);
    await expect(files.read("ring.json")).rejects.toThrow(DeadProcessError);
    expect(await disk.openFiles().read("ring.json")).toBe(1);
    expect(await disk.files.read("ring.json")).toBe(1);
  });

  it("reads text that is not JSON as a StateFileSyntaxError", async () => {
    const { disk } = makeDisk();
    await disk.files.write("node.json", "{ torn");
    await expect(disk.files.read("node.json")).rejects.toThrow(StateFileSyntaxError);
  });
});
