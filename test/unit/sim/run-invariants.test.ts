// The invariants a data-path simulation watches while it runs (src/sim/run-invariants.ts): a node's
// error line that names an invariant becomes a breach with the node and the virtual time, other
// lines are ignored; a hint store counting more bytes for a target than its limit, or storing more
// than it counts, is a breach too.

import { describe, expect, it } from "vitest";
import type { BuiltNodeCore } from "../../../src/node/build-node.js";
import type { HintStore, PendingHints, StoredHint } from "../../../src/storage/hints.js";
import { RunInvariants, type WatchedCluster } from "../../../src/sim/run-invariants.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";

const LIMIT = 1_000;

function fakeHints(pending: Map<string, PendingHints>, stored: StoredHint[] = []): HintStore {
  return {
    pending: () => pending,
    limits: () => ({ bytesPerTargetMax: LIMIT, hintBytesMax: LIMIT }),
    scan: (target: string, limit: number) =>
      Promise.resolve(stored.filter((hint) => hint.target === target).slice(0, limit)),
  } as unknown as HintStore;
}

function clusterOf(hints: HintStore): WatchedCluster {
  const node = { store: { openHints: () => Promise.resolve(hints) } } as unknown as BuiltNodeCore;
  return { ids: () => ["n1", "n2"], node: (id) => (id === "n1" ? node : null) };
}

function storedHint(target: string, sequence: number, bytes: number): StoredHint {
  return { target, sequence, bytes, key: "k", encodedRecord: new Uint8Array(), createdMs: 0 };
}

describe("the run's invariants", () => {
  it("keeps a node's error line that names an invariant, with its node and virtual time", () => {
    const clock = new VirtualClock({ startMs: 5_000 });
    const invariants = new RunInvariants(clock);
    const log = invariants.logger().child({ node: "n3" });
    log.error({ change: "bootstrap n4" }, "range stream failed: the source went away");
    log.warn({ invariant: "stream-cursor" }, "a warning is not a breach");
    clock.runUntil(7_500);
    log.error(
      { invariant: "stream-cursor" },
      "range stream failed: a page from n1 does not advance the cursor",
    );
    expect(invariants.breaches()).toEqual([
      {
        invariant: "stream-cursor",
        node: "n3",
        atMs: 2_500,
        message: "range stream failed: a page from n1 does not advance the cursor",
      },
    ]);
  });

  it("watches every simulated second that no hint store counts more than its limit for a target", async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const pending = new Map<string, PendingHints>([["n2", { count: 3, bytes: LIMIT }]]);
    const invariants = new RunInvariants(clock);
    invariants.begin(clusterOf(fakeHints(pending)), 0);
    await Promise.resolve();
    clock.runUntil(2_000);
    expect(invariants.breaches()).toEqual([]);
    pending.set("n2", { count: 4, bytes: LIMIT + 1 });
    clock.runUntil(3_000);
    invariants.stop();
    clock.runUntil(10_000);
    expect(invariants.breaches()).toEqual([
      {
        invariant: "hint-bytes",
        node: "n1",
        atMs: 3_000,
        message: "n1 counts 1001 pending hint bytes for n2, over its limit of 1000",
      },
    ]);
  });

  it("at a phase's end finds hints stored beyond what the store counts", async () => {
    const clock = new VirtualClock({ startMs: 0 });
    const pending = new Map<string, PendingHints>([["n2", { count: 1, bytes: 100 }]]);
    const stored = [storedHint("n2", 0, 100), storedHint("n2", 1, 100)];
    const invariants = new RunInvariants(clock);
    invariants.begin(clusterOf(fakeHints(pending, stored)), 0);
    invariants.stop();
    await Promise.resolve();
    await invariants.checkPhase("settle");
    expect(invariants.breaches()).toEqual([
      {
        invariant: "hint-storage",
        node: "n1",
        atMs: 0,
        message:
          "at the end of settle, n1 stores at least 2 hints (200 bytes) for n2, but counts 1 (100 bytes) within a limit of 1000",
      },
    ]);
  });
});
