// Fallback copies (issue 16 §4) over a real LevelDB: kept apart from the node's own hints (the `f`
// namespace), rebuilt across a reopen, bounded in bytes, found by key for reads, and handed off to
// their primary, deleted only once it acknowledged.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { FallbackCopies } from "../../../src/replication/fallback-copies.js";
import { encodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import type { LevelStore } from "../../../src/storage/store.js";
import { withLevelStores } from "../../support/level-stores.js";

function record(timestampUs: number, value: string): StoredRecord {
  return { value: Buffer.from(value), contentType: "", timestampUs, writer: "w", tombstone: false };
}

interface Delivery {
  readonly to: NodeId;
  readonly key: string;
}

async function copiesOf(
  store: LevelStore,
  bytesMax: number,
  live: Set<NodeId>,
  delivered: Delivery[] = [],
): Promise<FallbackCopies> {
  return new FallbackCopies(
    { self: "e", bytesMax },
    {
      hints: await store.openFallbacks(),
      transport: {
        write: async (to, key) => {
          if (!live.has(to)) throw new Error(`${to} is down`);
          delivered.push({ to, key });
        },
      },
      cluster: { isLive: (id) => live.has(id) },
      // Replay's pacing waits on the clock: here every wait ends on the next turn.
      clock: {
        nowMs: () => 0,
        schedule: (_delayMs, task) => {
          const timer = setTimeout(task, 0);
          return () => clearTimeout(timer);
        },
      },
      wallMs: () => 1_000,
    },
  );
}

describe("fallback copies", () => {
  it("are kept apart from hints, survive a reopen, and are found by key, newest first", async () => {
    await withLevelStores("fallbacks", async (open) => {
      const store = await open();
      const hints = await store.openHints();
      const copies = await copiesOf(store, 1 << 20, new Set());
      expect(await copies.store("c", "k", encodeRecord(record(10, "old")))).toBe("stored");
      expect(await copies.store("d", "k", encodeRecord(record(20, "new")))).toBe("stored");
      expect(await copies.store("c", "other", encodeRecord(record(30, "x")))).toBe("stored");
      expect(hints.pending().size).toBe(0);
      expect(copies.stats().copies).toBe(3);
      expect((await copies.find("k"))?.value.toString()).toBe("new");
      expect(await copies.find("absent")).toBeUndefined();
      const bytes = copies.bytes();
      await store.close();

      const reopened = await copiesOf(await open(), 1 << 20, new Set());
      expect(reopened.bytes()).toBe(bytes);
      expect((await reopened.find("other"))?.value.toString()).toBe("x");
    });
  });

  it("refuses a copy past the byte bound, and keeps the ones stored", async () => {
    await withLevelStores("fallbacks", async (open) => {
      const copies = await copiesOf(await open(), 600, new Set());
      const big = encodeRecord(record(1, "v".repeat(200)));
      expect(await copies.store("c", "k1", big)).toBe("stored");
      expect(await copies.store("c", "k2", big)).toBe("stored");
      expect(await copies.store("c", "k3", big)).toBe("full");
      expect(copies.stats()).toMatchObject({ copies: 2, refusedFull: 1, bytesMax: 600 });
      expect(copies.bytes()).toBeLessThanOrEqual(600);
    });
  });

  it("hands each copy to its primary once it is back, and deletes only what it acknowledged", async () => {
    await withLevelStores("fallbacks", async (open) => {
      const live = new Set<NodeId>();
      const delivered: Delivery[] = [];
      const copies = await copiesOf(await open(), 1 << 20, live, delivered);
      await copies.store("c", "k1", encodeRecord(record(1, "a")));
      await copies.store("d", "k2", encodeRecord(record(2, "b")));
      // c is still down: nothing is delivered, nothing deleted.
      expect((await copies.handoff.replay("c")).complete).toBe(false);
      expect(copies.stats().copies).toBe(2);
      live.add("c");
      expect((await copies.handoff.replay("c")).replayed).toBe(1);
      expect(delivered).toEqual([{ to: "c", key: "k1" }]);
      expect(copies.stats()).toMatchObject({ copies: 1, handedOff: 1 });
      live.add("d");
      await copies.handoff.replay("d");
      expect(copies.bytes()).toBe(0);
    });
  });
});
