// The `future-record` run invariant (src/sim/future-record-watch.ts, run-invariants.ts): a data
// record a machine's disk takes, stamped further ahead of that machine's wall clock (when its node
// took the record) than its allowed clock offset, is a breach with the node, the key and how far
// ahead; a stamp within the offset, a hint (another namespace) and a delete are not. A record is
// judged by the wall clock when the node handed it to its store, not when the disk landed it (seed
// 356131291: a clock stepped back while a slow disk held a write).

import { describe, expect, it } from "vitest";
import type { BuiltNodeCore } from "../../../src/node/build-node.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import {
  FUTURE_RECORD_WATCH_LIMITS,
  firstFutureRecord,
  TakenClocks,
} from "../../../src/sim/future-record-watch.js";
import { RunInvariants, type WatchedCluster } from "../../../src/sim/run-invariants.js";
import type { DiskOperation } from "../../../src/sim/sim-database.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { encodeHintKey } from "../../../src/storage/hint-codec.js";
import { encodeDataKey } from "../../../src/storage/layout.js";
import { encodeRecord, tombstoneRecord, type KeyedRecord } from "../../../src/storage/record.js";

const MAX_OFFSET_MS = 500;

function put(key: string, timestampUs: number, writer = "n1"): DiskOperation {
  return {
    type: "put",
    key: encodeDataKey(tokenOf(key), key),
    value: encodeRecord(tombstoneRecord(timestampUs, writer)),
  };
}

/** The write a node hands its store, as put() lands it. */
function write(key: string, timestampUs: number, writer = "n1"): KeyedRecord {
  return { key, record: tombstoneRecord(timestampUs, writer) };
}

describe("records from the future a disk takes", () => {
  const wallUs = 10_000_000;

  it("finds the first data record stamped past the offset, and how far ahead it is", () => {
    const batch = [
      put("now", wallUs),
      put("edge", wallUs + 500_000),
      put("ahead", wallUs + 500_001),
      put("later", wallUs + 900_000),
    ];
    expect(firstFutureRecord(batch, wallUs, MAX_OFFSET_MS * 1000)).toEqual({
      key: "ahead",
      timestampUs: wallUs + 500_001,
      aheadUs: 500_001,
    });
  });

  it("ignores hints and deletes, whatever they carry", () => {
    const hint: DiskOperation = {
      type: "put",
      key: encodeHintKey("n2", 1),
      value: encodeRecord(tombstoneRecord(wallUs + 9_000_000, "n1")),
    };
    const del: DiskOperation = { type: "del", key: encodeDataKey(tokenOf("k"), "k") };
    expect(
      firstFutureRecord([hint, del, put("k", wallUs)], wallUs, MAX_OFFSET_MS * 1000),
    ).toBeNull();
  });

  it("is a breach of the run, judged by the storing machine's own wall clock", () => {
    const clock = new VirtualClock({ startMs: 1_000 });
    // Its hint store never opens: this test is about disks only.
    const store = { openHints: () => new Promise<never>(() => undefined) };
    const node = { config: { maxClockOffsetMs: MAX_OFFSET_MS }, store } as unknown as BuiltNodeCore;
    const offsets = new Map([
      ["n1", 0],
      ["n2", -800],
    ]);
    let listener: ((id: string, operations: readonly DiskOperation[]) => void) | undefined;
    const cluster: WatchedCluster = {
      ids: () => ["n1", "n2"],
      node: () => node,
      wallMsOf: (id) => clock.nowMs() + (offsets.get(id) ?? 0),
      watchDiskBatches: (watch) => {
        listener = watch;
      },
    };
    const invariants = new RunInvariants(clock);
    invariants.begin(cluster, 0);
    const stamp = 1_000_000; // the true time, 1 s, in µs
    listener?.("n1", [put("k", stamp)]);
    listener?.("n2", [put("k", stamp)]);
    invariants.stop();
    listener?.("n2", [put("k", stamp)]);
    expect(invariants.breaches()).toEqual([
      {
        invariant: "future-record",
        node: "n2",
        atMs: 1_000,
        message:
          'n2 stored "k" stamped 1000000, 800 ms ahead of its wall clock when it took it: past the allowed clock offset of 500 ms',
      },
    ]);
  });

  it("judges a record by the wall clock when its node took it, not when a slow disk landed it", () => {
    const clock = new VirtualClock({ startMs: 1_000 });
    const store = { openHints: () => new Promise<never>(() => undefined) };
    const node = { config: { maxClockOffsetMs: MAX_OFFSET_MS }, store } as unknown as BuiltNodeCore;
    let offsetMs = 0;
    let onBatch: ((id: string, operations: readonly DiskOperation[]) => void) | undefined;
    let onApply: ((id: string, writes: readonly KeyedRecord[]) => void) | undefined;
    const cluster: WatchedCluster = {
      ids: () => ["n1"],
      node: () => node,
      wallMsOf: () => clock.nowMs() + offsetMs,
      watchDiskBatches: (watch) => {
        onBatch = watch;
      },
      watchStoreApplies: (watch) => {
        onApply = watch;
      },
    };
    const invariants = new RunInvariants(clock);
    invariants.begin(cluster, 0);
    // Seed 356131291: n1 stamps its own write at its wall clock and hands it to its store...
    onApply?.("n1", [write("hot:2", 1_000_000)]);
    // ...its clock steps back 860 ms while the slow disk holds the write, which then lands.
    offsetMs = -860;
    onBatch?.("n1", [put("hot:2", 1_000_000)]);
    expect(invariants.breaches()).toEqual([]);
    // A record the node took while it was already too far ahead is a breach, however late it
    // lands (here at a wall clock that has caught up with its stamp).
    onApply?.("n1", [write("k", 1_000_000 - 860_000 + 600_000)]);
    offsetMs = 0;
    onBatch?.("n1", [put("k", 1_000_000 - 860_000 + 600_000)]);
    invariants.stop();
    expect(invariants.breaches()).toEqual([
      {
        invariant: "future-record",
        node: "n1",
        atMs: 1_000,
        message:
          'n1 stored "k" stamped 740000, 600 ms ahead of its wall clock when it took it: past the allowed clock offset of 500 ms',
      },
    ]);
  });
});

describe("the wall clock at which each machine took each version", () => {
  it("is told once per landing, by machine and version (key, stamp, writer)", () => {
    const taken = new TakenClocks();
    taken.took("n1", [write("k", 5, "n1"), write("k", 5, "n2")], 100);
    taken.took("n2", [write("k", 5, "n1")], 200);
    const n1 = taken.landed("n1");
    expect(n1("k", tombstoneRecord(5, "n2"))).toBe(100);
    expect(n1("k", tombstoneRecord(5, "n2"))).toBeUndefined();
    expect(n1("k", tombstoneRecord(6, "n1"))).toBeUndefined();
    expect(n1("other", tombstoneRecord(5, "n1"))).toBeUndefined();
    expect(taken.landed("n2")("k", tombstoneRecord(5, "n1"))).toBe(200);
    expect(taken.landed("n3")("k", tombstoneRecord(5, "n1"))).toBeUndefined();
  });

  it("keeps the later taking of a version, and the newest versions past its bound", () => {
    const taken = new TakenClocks();
    taken.took("n1", [write("k", 5)], 100);
    taken.took("n1", [write("k", 5)], 300);
    expect(taken.landed("n1")("k", tombstoneRecord(5, "n1"))).toBe(300);
    const max = FUTURE_RECORD_WATCH_LIMITS.takenVersionsPerMachineMax;
    const writes = Array.from({ length: max + 1 }, (_, index) => write(`k${index}`, 1));
    taken.took("n1", writes, 400);
    const landed = taken.landed("n1");
    expect(landed("k0", tombstoneRecord(1, "n1"))).toBeUndefined();
    expect(landed("k1", tombstoneRecord(1, "n1"))).toBe(400);
    expect(landed(`k${max}`, tombstoneRecord(1, "n1"))).toBe(400);
  });

  it("lets firstFutureRecord judge each record by it, and the wall clock now when unknown", () => {
    const wallUs = 10_000_000;
    const batch = [put("taken", wallUs + 900_000), put("unseen", wallUs + 600_000)];
    const takenAt = (key: string): number | undefined =>
      key === "taken" ? wallUs + 800_000 : undefined;
    expect(firstFutureRecord(batch, wallUs, MAX_OFFSET_MS * 1000, takenAt)).toEqual({
      key: "unseen",
      timestampUs: wallUs + 600_000,
      aheadUs: 600_000,
    });
  });
});
