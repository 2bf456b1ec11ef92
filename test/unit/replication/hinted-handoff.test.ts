// Hinted handoff against in-memory hints, a scripted transport and a virtual clock: what is stored,
// replay order, deletion of acknowledged hints only, stopping on failure, the window and the rate.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { decodeRecord, encodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import type {
  HeldHint,
  HintAppendOutcome,
  Hints,
  NewHint,
  PendingHints,
  StoredHint,
} from "../../../src/storage/hints.js";
import {
  HintedHandoff,
  type HintedHandoffOptions,
} from "../../../src/replication/hinted-handoff.js";

/** Hints in memory, in the storage's order (target, then sequence). */
class MemoryHints implements Hints {
  readonly stored: StoredHint[] = [];
  readonly held = new Set<number>();
  #sequence = 0;
  append(hint: NewHint): Promise<HintAppendOutcome> {
    this.stored.push({ ...hint, sequence: this.#sequence++, bytes: 10 });
    return Promise.resolve("stored");
  }
  hold(hint: NewHint): HeldHint {
    const stored: StoredHint = { ...hint, sequence: this.#sequence++, bytes: 10 };
    this.stored.push(stored);
    this.held.add(stored.sequence);
    return {
      stored: Promise.resolve("stored"),
      withdraw: () => {
        if (!this.held.delete(stored.sequence)) return;
        void this.delete([stored]);
      },
      keep: () => {
        this.held.delete(stored.sequence);
      },
    };
  }
  isHeld(hint: StoredHint): boolean {
    return this.held.has(hint.sequence);
  }
  scan(target: NodeId, limit = 256): Promise<StoredHint[]> {
    return Promise.resolve(this.stored.filter((hint) => hint.target === target).slice(0, limit));
  }
  delete(hints: readonly StoredHint[]): Promise<void> {
    for (const hint of hints) {
      const at = this.stored.findIndex(
        (entry) => entry.target === hint.target && entry.sequence === hint.sequence,
      );
      if (at >= 0) this.stored.splice(at, 1);
    }
    return Promise.resolve();
  }
  purgeCreatedBefore(cutoffMs: number): Promise<number> {
    const before = this.stored.length;
    const kept = this.stored.filter((hint) => hint.createdMs >= cutoffMs);
    this.stored.splice(0, this.stored.length, ...kept);
    return Promise.resolve(before - kept.length);
  }
  pending(): ReadonlyMap<NodeId, PendingHints> {
    const pending = new Map<NodeId, PendingHints>();
    for (const hint of this.stored) {
      const total = pending.get(hint.target) ?? { count: 0, bytes: 0 };
      pending.set(hint.target, { count: total.count + 1, bytes: total.bytes + hint.bytes });
    }
    return pending;
  }
}

/**
 * Virtual time: tasks run in due order when the test advances the clock; with `autoAdvance` a task
 * runs on the next microtask and time jumps to its due time (for tests where the rate is not the
 * point).
 */
class VirtualClock {
  autoAdvance = true;
  #nowMs = 0;
  #tasks: { dueMs: number; task: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.#nowMs;
  }
  schedule(delayMs: number, task: () => void): () => void {
    const entry = { dueMs: this.#nowMs + delayMs, task, cancelled: false };
    if (this.autoAdvance) {
      void Promise.resolve().then(() => {
        if (entry.cancelled) return;
        this.#nowMs = Math.max(this.#nowMs, entry.dueMs);
        task();
      });
      return () => {
        entry.cancelled = true;
      };
    }
    this.#tasks.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      await settle();
      const due = this.#tasks
        .filter((entry) => !entry.cancelled && entry.dueMs <= targetMs)
        .sort((a, b) => a.dueMs - b.dueMs)[0];
      if (due === undefined) break;
      this.#tasks.splice(this.#tasks.indexOf(due), 1);
      this.#nowMs = Math.max(this.#nowMs, due.dueMs);
      due.task();
    }
    this.#nowMs = targetMs;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const RECORD: StoredRecord = {
  value: new Uint8Array([1]),
  contentType: "text/plain",
  timestampUs: 5,
  writer: "n1",
  tombstone: false,
};

class Harness {
  readonly hints = new MemoryHints();
  readonly clock = new VirtualClock();
  readonly live = new Set<NodeId>(["n2", "n3"]);
  wallMs = 1_000_000;
  /** Writes the transport received, in order: "target key". */
  readonly writes: string[] = [];
  /** Keys whose write the transport fails. */
  readonly failing = new Set<string>();
  /** Keys whose record the target refuses for its timestamp (replica-protocol.ts clock_offset). */
  readonly fromTheFuture = new Set<string>();
  readonly futureDropped: string[] = [];
  readonly handoff: HintedHandoff;
  readonly errors: unknown[] = [];

  constructor(options: Partial<HintedHandoffOptions> = {}) {
    this.handoff = new HintedHandoff(
      {
        self: "n1",
        enabled: true,
        hintWindowMs: 60_000,
        replayRecordsPerSecondMax: 1_000_000,
        ...options,
      },
      {
        hints: this.hints,
        transport: {
          write: (to, key, encoded) => {
            this.writes.push(`${to} ${key}`);
            expect(decodeRecord(encoded).timestampUs).toBe(RECORD.timestampUs);
            if (this.fromTheFuture.has(key))
              return Promise.reject(
                Object.assign(new Error("refused: clock_offset"), { code: "clock_offset" }),
              );
            return this.failing.has(key)
              ? Promise.reject(new Error("unreachable"))
              : Promise.resolve();
          },
        },
        cluster: { isLive: (id) => this.live.has(id) },
        clock: this.clock,
        wallMs: () => this.wallMs,
        onError: (error) => this.errors.push(error),
        onFutureDropped: (target, key) => this.futureDropped.push(`${target} ${key}`),
      },
    );
  }

  miss(key: string, ...replicas: NodeId[]): void {
    this.handoff.onReplicaMiss({
      key,
      record: RECORD,
      missed: replicas.map((replica) => ({ replica, reason: "down" })),
    });
  }

  pendingKeys(target: NodeId): string[] {
    return this.hints.stored.filter((hint) => hint.target === target).map((hint) => hint.key);
  }
}

describe("HintedHandoff", () => {
  it("stores one hint per missed replica, never one for itself, stamped with the wall clock", async () => {
    const h = new Harness();
    h.miss("k", "n2", "n3", "n1");
    await settle();
    expect(h.hints.stored.map((hint) => `${hint.target} ${hint.key} ${hint.createdMs}`)).toEqual([
      "n2 k 1000000",
      "n3 k 1000000",
    ]);
    expect(h.handoff.stats().stored).toBe(2);
  });

  it("stores nothing when hinted handoff is off", async () => {
    const h = new Harness({ enabled: false });
    h.miss("k", "n2");
    await settle();
    expect(h.hints.stored).toEqual([]);
    expect(h.handoff.stats().stored).toBe(0);
  });

  it("replays a target's hints oldest first and deletes each one acknowledged", async () => {
    const h = new Harness({ replayConcurrencyMax: 1, replayBatchSize: 2 });
    for (const key of ["a", "b", "c", "d", "e"]) h.miss(key, "n2");
    h.miss("other", "n3");
    await settle();
    const result = await h.handoff.replay("n2");
    expect(result).toEqual({ target: "n2", replayed: 5, expired: 0, complete: true });
    expect(h.writes).toEqual(["n2 a", "n2 b", "n2 c", "n2 d", "n2 e"]);
    expect(h.pendingKeys("n2")).toEqual([]);
    expect(h.pendingKeys("n3")).toEqual(["other"]);
    expect(h.handoff.stats().replayed).toBe(5);
  });

  it("stops at the first failed replay and keeps every hint not acknowledged", async () => {
    const h = new Harness({ replayConcurrencyMax: 1 });
    for (const key of ["a", "b", "c", "d"]) h.miss(key, "n2");
    await settle();
    h.failing.add("b");
    const result = await h.handoff.replay("n2");
    expect(result).toMatchObject({ replayed: 1, complete: false });
    expect(h.writes).toEqual(["n2 a", "n2 b"]);
    expect(h.pendingKeys("n2")).toEqual(["b", "c", "d"]);
    h.failing.clear();
    expect(await h.handoff.replay("n2")).toMatchObject({ replayed: 3, complete: true });
    expect(h.pendingKeys("n2")).toEqual([]);
  });

  it("drops and counts a hint its target refuses for a timestamp from the future, and replays the ones after it", async () => {
    const h = new Harness({ replayConcurrencyMax: 1 });
    for (const key of ["a", "future", "c"]) h.miss(key, "n2");
    await settle();
    h.fromTheFuture.add("future");
    const result = await h.handoff.replay("n2");
    expect(result).toMatchObject({ replayed: 2, complete: true });
    expect(h.writes).toEqual(["n2 a", "n2 future", "n2 c"]);
    expect(h.pendingKeys("n2")).toEqual([]);
    expect(h.handoff.stats().dropped.clock).toBe(1);
    expect(h.futureDropped).toEqual(["n2 future"]);
  });

  it("drops and counts hints past the window at replay instead of sending them", async () => {
    const h = new Harness({ hintWindowMs: 1_000 });
    h.miss("old", "n2");
    await settle();
    h.wallMs += 1_500;
    h.miss("young", "n2");
    await settle();
    const result = await h.handoff.replay("n2");
    expect(result).toMatchObject({ replayed: 1, expired: 1, complete: true });
    expect(h.writes).toEqual(["n2 young"]);
    expect(h.handoff.stats().dropped.window).toBe(1);
  });

  it("purges hints past the window on the periodic tick and counts them", async () => {
    const h = new Harness({ hintWindowMs: 1_000, purgeIntervalMs: 5_000 });
    h.live.clear();
    h.miss("old", "n2");
    await settle();
    h.wallMs += 2_000;
    h.handoff.tick(4_000);
    await settle();
    expect(h.pendingKeys("n2")).toEqual(["old"]);
    h.handoff.tick(5_000);
    await settle();
    expect(h.pendingKeys("n2")).toEqual([]);
    expect(h.handoff.stats().dropped.window).toBe(1);
  });

  it("replays on member-up, and on the periodic check only for live targets holding hints", async () => {
    const h = new Harness({ replayCheckIntervalMs: 1_000 });
    h.live.delete("n2");
    h.miss("k2", "n2");
    h.miss("k3", "n3");
    await settle();
    h.handoff.tick(1_000);
    await settle();
    expect(h.writes).toEqual(["n3 k3"]);
    h.live.add("n2");
    h.handoff.onMemberUp("n2");
    await settle();
    expect(h.writes).toEqual(["n3 k3", "n2 k2"]);
    expect(h.hints.stored).toEqual([]);
  });

  it("never sends more than replayRecordsPerSecondMax hints per second", async () => {
    const rate = 10;
    const h = new Harness({ replayRecordsPerSecondMax: rate, replayConcurrencyMax: 4 });
    h.clock.autoAdvance = false;
    for (let i = 0; i < 30; i++) h.miss(`k${i}`, "n2");
    await settle();
    const replay = h.handoff.replay("n2");
    for (let elapsedMs = 100; elapsedMs <= 3_000; elapsedMs += 100) {
      await h.clock.advance(100);
      // The first write goes at once; each later one waits 1000 / rate ms for its slot.
      expect(h.writes.length).toBeLessThanOrEqual(1 + Math.floor((elapsedMs * rate) / 1_000));
    }
    await h.clock.advance(1_000);
    expect(await replay).toMatchObject({ replayed: 30, complete: true });
    expect(h.writes.map((write) => write.split(" ")[1])).toEqual(
      Array.from({ length: 30 }, (_, i) => `k${i}`),
    );
  });

  it("releases paced hint writes together on quantum boundaries, so the replica client can coalesce them", async () => {
    const h = new Harness({
      replayRecordsPerSecondMax: 1_000,
      replayConcurrencyMax: 8,
      replayPaceQuantumMs: 20,
    });
    h.clock.autoAdvance = false;
    for (let i = 0; i < 24; i++) h.miss(`k${i}`, "n2");
    await settle();
    const replay = h.handoff.replay("n2");
    await settle();
    const releasedAtMs = new Map<number, number>();
    let seen = h.writes.length;
    releasedAtMs.set(0, seen);
    for (let elapsedMs = 1; elapsedMs <= 200; elapsedMs++) {
      await h.clock.advance(1);
      await settle();
      if (h.writes.length > seen) releasedAtMs.set(elapsedMs, h.writes.length - seen);
      seen = h.writes.length;
    }
    expect(await replay).toMatchObject({ replayed: 24, complete: true });
    // Writes leave only on 20 ms boundaries, several at a time, and never ahead of the rate.
    let released = 0;
    for (const [atMs, count] of [...releasedAtMs].sort((a, b) => a[0] - b[0])) {
      expect(atMs % 20).toBe(0);
      released += count;
      expect(released).toBeLessThanOrEqual(1 + atMs);
    }
    expect(Math.max(...releasedAtMs.values())).toBeGreaterThan(1);
  });

  it("joins a replay already running for the same target instead of starting a second", async () => {
    const h = new Harness({ replayRecordsPerSecondMax: 10 });
    h.clock.autoAdvance = false;
    h.miss("a", "n2");
    h.miss("b", "n2");
    await settle();
    const first = h.handoff.replay("n2");
    const second = h.handoff.replay("n2");
    expect(second).toBe(first);
    await h.clock.advance(1_000);
    await first;
    expect(h.writes).toEqual(["n2 a", "n2 b"]);
  });

  it("covers replicas before an acknowledgement: withdrawn on their answer, kept and replayed otherwise, never held by replay", async () => {
    const h = new Harness();
    const encoded = encodeRecord(RECORD);
    const cover = h.handoff.cover("k1", encoded, ["n1", "n2", "n3"]);
    await cover.committed;
    // Never a hint for itself.
    expect(h.hints.stored.map((hint) => hint.target)).toEqual(["n2", "n3"]);
    // While held, a replay leaves them to their round.
    expect((await h.handoff.replay("n2")).replayed).toBe(0);
    cover.acknowledged("n2");
    cover.settle();
    await Promise.resolve();
    expect(h.hints.stored.map((hint) => hint.target)).toEqual(["n3"]);
    expect((await h.handoff.replay("n3")).replayed).toBe(1);
    expect(h.handoff.stats()).toMatchObject({ covered: 2, withdrawn: 1, stored: 1, replayed: 1 });
  });
});
