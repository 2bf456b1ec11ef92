// The `hint-delivery` run invariant (src/sim/hint-delivery-watch.ts): a hint deleted while its
// target holds the version (or a newer one) is fine, and so is one past the hint window, one whose
// stamp the target refuses as from the future, or one for a key the target no longer replicates;
// any other delete is a breach that names the coordinator, the target and the key. A disk answers
// what it holds at once, unsynced batches first (src/sim/sim-disk.ts latest).

import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import { HintDeliveryWatch, type HintDeliveryView } from "../../../src/sim/hint-delivery-watch.js";
import type { DiskOperation } from "../../../src/sim/sim-database.js";
import { SimDisk } from "../../../src/sim/sim-disk.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { encodeHintKey, encodeHintValue } from "../../../src/storage/hint-codec.js";
import { encodeDataKey } from "../../../src/storage/layout.js";
import { encodeRecord, type StoredRecord } from "../../../src/storage/record.js";

const HINT_WINDOW_MS = 60_000;
const MAX_OFFSET_MS = 500;
const NOW_MS = 1_000_000;

function recordAt(timestampUs: number): StoredRecord {
  return {
    value: new Uint8Array([1]),
    contentType: "text/plain",
    timestampUs,
    writer: "n1",
    tombstone: false,
  };
}

function hintPut(
  target: string,
  sequence: number,
  key: string,
  record: StoredRecord,
  createdMs: number,
): DiskOperation {
  return {
    type: "put",
    key: encodeHintKey(target, sequence),
    value: encodeHintValue({ target, key, encodedRecord: encodeRecord(record), createdMs }),
  };
}

function dataKey(key: string): string {
  return encodeDataKey(tokenOf(key), key).toString("latin1");
}

/**
 * A cluster of fixed clocks where n2's disk holds `held`, and n2 replicates every key but "moved".
 */
function viewOf(held: Map<string, Buffer>, offsets: Record<string, number> = {}): HintDeliveryView {
  return {
    wallMsOf: (id) => NOW_MS + (offsets[id] ?? 0),
    latest: (id, key) => (id === "n2" ? held.get(key.toString("latin1")) : undefined),
    limitsOf: () => ({ hintWindowMs: HINT_WINDOW_MS, maxClockOffsetMs: MAX_OFFSET_MS }),
    replicates: (_id, _target, key) => key !== "moved",
  };
}

function del(sequence: number): DiskOperation {
  return { type: "del", key: encodeHintKey("n2", sequence) };
}

describe("hints deleted before their target holds them", () => {
  const stampUs = NOW_MS * 1000;

  it("lets a hint go once the target holds its version or a newer one", () => {
    const held = new Map([
      [dataKey("a"), encodeRecord(recordAt(stampUs))],
      [dataKey("b"), encodeRecord(recordAt(stampUs + 1))],
    ]);
    const watch = new HintDeliveryWatch(viewOf(held));
    expect(
      watch.onBatch("n1", [
        hintPut("n2", 1, "a", recordAt(stampUs), NOW_MS),
        hintPut("n2", 2, "b", recordAt(stampUs), NOW_MS),
      ]),
    ).toEqual([]);
    expect(watch.onBatch("n1", [del(1), del(2)])).toEqual([]);
  });

  it("is a breach when the target holds no version or an older one", () => {
    const held = new Map([[dataKey("b"), encodeRecord(recordAt(stampUs - 1))]]);
    const watch = new HintDeliveryWatch(viewOf(held));
    watch.onBatch("n1", [
      hintPut("n2", 1, "a", recordAt(stampUs), NOW_MS),
      hintPut("n2", 2, "b", recordAt(stampUs), NOW_MS),
    ]);
    expect(watch.onBatch("n1", [del(1), del(2), del(3)])).toEqual([
      `n1 deleted its hint for n2 of "a" (stamped ${stampUs}) while n2 holds no version of it`,
      `n1 deleted its hint for n2 of "b" (stamped ${stampUs}) while n2 holds an older version of it`,
    ]);
  });

  it("lets go a hint past the window, one the target refuses as from the future, and one for a key it no longer replicates", () => {
    const watch = new HintDeliveryWatch(viewOf(new Map(), { n2: -800 }));
    watch.onBatch("n1", [
      hintPut("n2", 1, "old", recordAt(0), NOW_MS - HINT_WINDOW_MS - 1),
      hintPut("n2", 2, "ahead", recordAt(stampUs), NOW_MS),
      hintPut("n2", 3, "moved", recordAt(0), NOW_MS),
    ]);
    expect(watch.onBatch("n1", [del(1), del(2), del(3)])).toEqual([]);
  });
});

describe("a simulated disk read at once", () => {
  it("answers the newest write of a key, unsynced or not, and nothing after a delete", async () => {
    const disk = new SimDisk({ clock: new VirtualClock({ startMs: 0 }), random: createRandom(1) });
    const db = disk.openDatabase();
    await db.open();
    const key = Buffer.from("k");
    // Synced: it reaches the durable image, under the unsynced write after it.
    await db.batch([{ type: "put", key, value: Buffer.from("1") }], { sync: true } as object);
    await db.put(key, Buffer.from("2"));
    expect(disk.latest(key)?.toString()).toBe("2");
    await db.del(key);
    expect(disk.latest(key)).toBeUndefined();
    expect(disk.latest(Buffer.from("other"))).toBeUndefined();
    await db.close();
  });
});
