// The `future-record` run invariant (src/sim/future-record-watch.ts, run-invariants.ts): a data
// record a machine's disk takes, stamped further ahead of that machine's wall clock than its
// allowed clock offset, is a breach with the node, the key and how far ahead; a stamp within the
// offset, a hint (another namespace) and a delete are not.

import { describe, expect, it } from "vitest";
import type { BuiltNodeCore } from "../../../src/node/build-node.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import { firstFutureRecord } from "../../../src/sim/future-record-watch.js";
import { RunInvariants, type WatchedCluster } from "../../../src/sim/run-invariants.js";
import type { DiskOperation } from "../../../src/sim/sim-database.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { encodeHintKey } from "../../../src/storage/hint-codec.js";
import { encodeDataKey } from "../../../src/storage/layout.js";
import { encodeRecord, tombstoneRecord } from "../../../src/storage/record.js";

const MAX_OFFSET_MS = 500;

function put(key: string, timestampUs: number): DiskOperation {
  return {
    type: "put",
    key: encodeDataKey(tokenOf(key), key),
    value: encodeRecord(tombstoneRecord(timestampUs, "n1")),
  };
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
          'n2 stored "k" stamped 1000000, 800 ms ahead of its wall clock: past the allowed clock offset of 500 ms',
      },
    ]);
  });
});
