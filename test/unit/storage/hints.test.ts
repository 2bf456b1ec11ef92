// Hint storage in the node's LevelDB: per-target order, survival across a reopen, the byte and size
// bounds, deletion and the window purge.

import { describe, expect, it } from "vitest";
import { RECORD_BYTES_MAX } from "../../../src/core/limits.js";
import { LAYOUT_LIMITS } from "../../../src/storage/layout.js";
import { withLevelStores } from "../../support/level-stores.js";
import { decodeHintKey, encodeHintKey } from "../../../src/storage/hint-codec.js";
import {
  HintStore,
  type HintDatabase,
  type Lane,
  type NewHint,
} from "../../../src/storage/hints.js";

function hint(target: string, key: string, createdMs: number, valueBytes = 10): NewHint {
  return { target, key, encodedRecord: new Uint8Array(valueBytes).fill(7), createdMs };
}

describe("hint keys", () => {
  it("order by target, then by sequence numerically", () => {
    const keys = [
      encodeHintKey("b", 1),
      encodeHintKey("a", 256),
      encodeHintKey("ab", 0),
      encodeHintKey("a", 2),
    ].sort(Buffer.compare);
    expect(keys.map((key) => decodeHintKey(key))).toEqual([
      { target: "a", sequence: 2 },
      { target: "a", sequence: 256 },
      { target: "b", sequence: 1 },
      { target: "ab", sequence: 0 },
    ]);
  });
});

describe("HintStore", () => {
  it("returns one target's hints oldest first and never another target's", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      const outcomes = await Promise.all([
        hints.append(hint("node2", "k1", 10)),
        hints.append(hint("node20", "x", 11)),
        hints.append(hint("node2", "k2", 12)),
        hints.append(hint("node3", "y", 13)),
        hints.append(hint("node2", "k3", 14)),
      ]);
      expect(outcomes).toEqual(["stored", "stored", "stored", "stored", "stored"]);
      const scanned = await hints.scan("node2");
      expect(scanned.map((entry) => entry.key)).toEqual(["k1", "k2", "k3"]);
      expect(scanned.map((entry) => entry.createdMs)).toEqual([10, 12, 14]);
      expect(scanned.every((entry) => entry.target === "node2")).toBe(true);
      expect(Buffer.from(scanned[0]?.encodedRecord ?? []).equals(Buffer.alloc(10, 7))).toBe(true);
      expect((await hints.scan("node2", 2)).map((entry) => entry.key)).toEqual(["k1", "k2"]);
      expect(hints.pending().get("node2")?.count).toBe(3);
      expect(hints.pending().get("node20")?.count).toBe(1);
    });
  });

  it("keeps hints, their order and their totals across a reopen, and continues the order after it", async () => {
    await withLevelStores("hints", async (open) => {
      const first = await open();
      const before = await first.openHints();
      await before.append(hint("node2", "old-1", 1));
      await before.append(hint("node2", "old-2", 2));
      const bytesBefore = before.pending().get("node2")?.bytes;
      await first.close();

      const second = await open();
      const after = await second.openHints();
      expect(after.pending().get("node2")).toEqual({ count: 2, bytes: bytesBefore });
      await after.append(hint("node2", "new", 3));
      expect((await after.scan("node2")).map((entry) => entry.key)).toEqual([
        "old-1",
        "old-2",
        "new",
      ]);
    });
  });

  it("drops new hints past the per-target byte bound, keeps the old ones, and leaves other targets alone", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      // One hint of a 10-byte record under key "kN" is 32 bytes stored; the bound admits two.
      const hints = await store.openHints({ hintBytesPerTargetMax: 70 });
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) outcomes.push(await hints.append(hint("node2", `k${i}`, i)));
      expect(outcomes).toEqual(["stored", "stored", "dropped-bytes", "dropped-bytes"]);
      expect((await hints.scan("node2")).map((entry) => entry.key)).toEqual(["k0", "k1"]);
      expect(hints.pending().get("node2")?.bytes).toBe(64);
      expect(await hints.append(hint("node3", "other", 5))).toBe("stored");
    });
  });

  it("decides the byte bound at append, so hints appended in one turn cannot pass it together", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints({ hintBytesPerTargetMax: 70 });
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, i) => hints.append(hint("node2", `k${i}`, i))),
      );
      expect(outcomes.filter((outcome) => outcome === "stored")).toHaveLength(2);
      expect((await hints.scan("node2")).length).toBe(2);
    });
  });

  it("refuses a hint larger than hintBytesMax", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints({ hintBytesMax: 200 });
      expect(await hints.append(hint("node2", "big", 1, 500))).toBe("dropped-size");
      expect(await hints.append(hint("node2", "small", 1, 10))).toBe("stored");
      expect(hints.pending().get("node2")?.count).toBe(1);
    });
  });

  it("by default stores the hint of the largest record a node may be configured to take", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      // --max-value-bytes goes up to VALUE_BYTES_MAX; a hint bound of 1 MiB dropped these.
      const largest = hint("node2", "k".repeat(LAYOUT_LIMITS.keyBytesMax), 1, RECORD_BYTES_MAX);
      expect(await hints.append(largest)).toBe("stored");
      const [stored] = await hints.scan("node2");
      expect(stored?.encodedRecord.length).toBe(RECORD_BYTES_MAX);
    });
  });

  it("deletes only the hints named, once, and frees their bytes", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints({ hintBytesPerTargetMax: 70 });
      await hints.append(hint("node2", "k0", 0));
      await hints.append(hint("node2", "k1", 1));
      const [oldest] = await hints.scan("node2", 1);
      if (oldest === undefined) throw new Error("no hint");
      await Promise.all([hints.delete([oldest]), hints.delete([oldest])]);
      expect((await hints.scan("node2")).map((entry) => entry.key)).toEqual(["k1"]);
      expect(hints.pending().get("node2")?.count).toBe(1);
      // The freed bytes admit a new hint under the bound.
      expect(await hints.append(hint("node2", "k2", 2))).toBe("stored");
      await hints.delete(await hints.scan("node2"));
      expect(hints.pending().has("node2")).toBe(false);
    });
  });

  it("purges every hint created before the cutoff, across targets, and counts them", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      for (let i = 0; i < 5; i++) await hints.append(hint("node2", `k${i}`, i * 100));
      await hints.append(hint("node3", "old", 50));
      await hints.append(hint("node3", "young", 900));
      expect(await hints.purgeCreatedBefore(250)).toBe(4);
      expect((await hints.scan("node2")).map((entry) => entry.key)).toEqual(["k3", "k4"]);
      expect((await hints.scan("node3")).map((entry) => entry.key)).toEqual(["young"]);
    });
  });

  it("holds a hint: withdrawn before its batch left it is never written; withdrawn after, it is deleted", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      const early = hints.hold(hint("node2", "early", 1));
      early.withdraw();
      expect(await early.stored).toBe("withdrawn");
      const late = hints.hold(hint("node2", "late", 2));
      expect(await late.stored).toBe("stored");
      expect(hints.pending().get("node2")?.count).toBe(1);
      late.withdraw();
      late.withdraw();
      await hints.flush();
      expect(await hints.scan("node2")).toEqual([]);
      expect(hints.pending().has("node2")).toBe(false);
    });
  });

  it("leaves a held hint out of purges and reports it held until kept, then treats it as any other", async () => {
    await withLevelStores("hints", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      const held = hints.hold(hint("node2", "held", 10));
      await held.stored;
      const [stored] = await hints.scan("node2");
      if (stored === undefined) throw new Error("no hint");
      expect(hints.isHeld(stored)).toBe(true);
      expect(await hints.purgeCreatedBefore(1_000)).toBe(0);
      held.keep();
      // Kept: the round is done with it; withdraw() no longer deletes it, a purge does.
      held.withdraw();
      await hints.flush();
      expect(hints.isHeld(stored)).toBe(false);
      expect(await hints.purgeCreatedBefore(1_000)).toBe(1);
    });
  });

  it("brings held hints back from a reopen as ordinary hints (a crash keeps them)", async () => {
    await withLevelStores("hints", async (open) => {
      const first = await open();
      const hints = await first.openHints();
      await hints.hold(hint("node2", "k", 1)).stored;
      await first.close();
      const again = await (await open()).openHints();
      const [reloaded] = await again.scan("node2");
      expect(reloaded?.key).toBe("k");
      if (reloaded !== undefined) expect(again.isHeld(reloaded)).toBe(false);
    });
  });

  it("forgets a held hint whose batch failed, and deletes nothing for a withdrawal made while that batch was written", async () => {
    let failBatch: (error: Error) => void = () => undefined;
    const batches: number[] = [];
    const db: HintDatabase = {
      batch: (operations) => {
        batches.push(operations.length);
        if (batches.length > 1) return Promise.resolve();
        return new Promise<void>((_, reject) => {
          failBatch = reject;
        });
      },
      getMany: (keys) => Promise.resolve(keys.map(() => undefined)),
      iterator: () => ({ nextv: () => Promise.resolve([]), close: () => Promise.resolve() }),
    };
    let tail: Promise<unknown> = Promise.resolve();
    const lane: Lane = (task) => {
      const result = tail.then(task);
      tail = result.catch(() => undefined);
      return result;
    };
    const hints = await HintStore.open(db, lane, { sync: false });
    const held = hints.hold(hint("node2", "k", 1));
    await new Promise((resolve) => setImmediate(resolve));
    // Its batch is being written: the withdrawal needs a delete, queued behind it.
    held.withdraw();
    failBatch(new Error("disk full"));
    expect(await held.stored).toBe("failed");
    await hints.flush();
    expect(hints.pending().has("node2")).toBe(false);
    // The delete was dropped rather than written for a hint that never was.
    expect(batches).toEqual([1]);
  });
});
