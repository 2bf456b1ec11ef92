// Read repair against a scripted coordinator, in-memory replicas and a manual clock: stale replicas
// get the newest record before the read resolves; the deadline bounds the wait; a failed repair
// write becomes a hint; background checks follow a seeded chance.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { createRandom } from "../../../src/core/random.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { compareRecords, decodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import type { ReadOutcome, ReplicaMiss } from "../../../src/replication/coordinator.js";
import { ReadRepair, type ReadRepairOptions } from "../../../src/replication/read-repair.js";
import { digestOf } from "../../../src/replication/replica-transport.js";

// Every key (token 150) lands in (100, 200] owned by "b": the replicas are b, c, a.
const RING = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
  ]),
);
const SEED = 20_250_303;

function record(timestampUs: number): StoredRecord {
  return {
    value: new Uint8Array([timestampUs % 256]),
    contentType: "text/plain",
    timestampUs,
    writer: "a",
    tombstone: false,
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

class ManualClock {
  #nowMs = 0;
  tasks: { task: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.#nowMs;
  }
  schedule(_delayMs: number, task: () => void): () => void {
    const entry = { task, cancelled: false };
    this.tasks.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }
  fireAll(): void {
    const due = this.tasks.filter((entry) => !entry.cancelled);
    this.tasks = [];
    for (const entry of due) entry.task();
  }
}

class Harness {
  readonly records = new Map<NodeId, Map<string, StoredRecord>>([
    ["a", new Map()],
    ["b", new Map()],
    ["c", new Map()],
  ]);
  /** Replicas whose writes wait for release() or fail. */
  readonly holding = new Set<NodeId>();
  readonly failing = new Set<NodeId>();
  held: (() => void)[] = [];
  readonly clock = new ManualClock();
  readonly misses: ReplicaMiss[] = [];
  readonly digestReads: NodeId[] = [];
  outcome: ReadOutcome = { record: undefined, stale: [], answered: 2 };
  readonly repair: ReadRepair;
  /** Timestamps above this are from the future (the node's wall clock plus the allowed offset). */
  futureAboveUs = Number.POSITIVE_INFINITY;
  readonly futureSkipped: string[] = [];

  constructor(options: Partial<ReadRepairOptions> = {}, seed = SEED) {
    const put = (id: NodeId, key: string, incoming: StoredRecord): void => {
      const map = this.records.get(id) as Map<string, StoredRecord>;
      const current = map.get(key);
      if (current === undefined || compareRecords(incoming, current) > 0) map.set(key, incoming);
    };
    this.repair = new ReadRepair(
      { self: "a", replicationFactor: 3, requestTimeoutMs: 500, backgroundChance: 0, ...options },
      {
        coordinator: { read: () => Promise.resolve(this.outcome) },
        cluster: { ring: () => RING, isLive: () => true },
        store: {
          get: (key) => Promise.resolve(this.records.get("a")?.get(key)),
          apply: (writes) => {
            for (const write of writes) put("a", write.key, write.record);
            return Promise.resolve({ written: writes.length, superseded: 0 });
          },
        },
        transport: {
          write: (to, key, encoded) => {
            if (this.failing.has(to)) return Promise.reject(new Error("unreachable"));
            const apply = (): void => put(to, key, decodeRecord(encoded));
            if (!this.holding.has(to)) {
              apply();
              return Promise.resolve();
            }
            return new Promise<void>((resolve) => this.held.push(() => (apply(), resolve())));
          },
          readData: (to, key) => Promise.resolve(this.records.get(to)?.get(key)),
          readDigest: (to, key) => {
            this.digestReads.push(to);
            return Promise.resolve(digestOf(this.records.get(to)?.get(key)));
          },
        },
        clock: this.clock,
        random: createRandom(seed),
        tokenOf: () => 150n,
        onRepairMiss: (miss) => this.misses.push(miss),
        isFromTheFuture: (timestampUs) => timestampUs > this.futureAboveUs,
        onFutureSkipped: (key) => this.futureSkipped.push(key),
      },
    );
  }

  holds(id: NodeId, key: string): number | undefined {
    return this.records.get(id)?.get(key)?.timestampUs;
  }
}

describe("ReadRepair", () => {
  it("writes the newest record to every stale replica before the read resolves", async () => {
    const h = new Harness();
    h.records.get("b")?.set("k", record(2));
    h.records.get("c")?.set("k", record(1));
    h.records.get("a")?.set("k", record(1));
    h.outcome = { record: record(2), stale: ["c", "a"], answered: 3 };
    h.holding.add("c");
    let resolved = false;
    const read = h.repair.read({ key: "k", level: "all" }).then((outcome) => {
      resolved = true;
      return outcome;
    });
    await settle();
    expect(h.holds("a", "k")).toBe(2);
    expect(resolved).toBe(false);
    for (const release of h.held) release();
    const outcome = await read;
    expect(outcome.record?.timestampUs).toBe(2);
    expect(h.holds("c", "k")).toBe(2);
    expect(h.repair.stats()).toMatchObject({ foreground: 1, keysRepaired: 2 });
    expect(h.clock.tasks.every((entry) => entry.cancelled)).toBe(true);
  });

  it("does not copy a record from the future to the stale replicas, and counts it (issue 14 §2)", async () => {
    const h = new Harness();
    h.futureAboveUs = 1_000;
    h.records.get("b")?.set("k", record(1_000_000));
    h.records.get("a")?.set("k", record(1));
    h.outcome = { record: record(1_000_000), stale: ["a"], answered: 2 };
    await h.repair.read({ key: "k", level: "quorum" });
    expect(h.holds("a", "k")).toBe(1);
    expect(h.repair.stats()).toMatchObject({ keysRepaired: 0, futureSkipped: 1 });
    expect(h.futureSkipped).toEqual(["k"]);
  });

  it("answers at the request deadline when a repair write hangs", async () => {
    const h = new Harness();
    h.outcome = { record: record(2), stale: ["c"], answered: 2 };
    h.holding.add("c");
    let resolved = false;
    const read = h.repair.read({ key: "k", level: "quorum" }).then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    h.clock.fireAll();
    await read;
    expect(resolved).toBe(true);
  });

  it("still answers when a repair write fails, and reports the replica for a hint", async () => {
    const h = new Harness();
    h.outcome = { record: record(2), stale: ["c"], answered: 2 };
    h.failing.add("c");
    const outcome = await h.repair.read({ key: "k", level: "quorum" });
    expect(outcome.record?.timestampUs).toBe(2);
    expect(h.misses).toEqual([
      { key: "k", record: record(2), missed: [{ replica: "c", reason: "failed" }] },
    ]);
    expect(h.repair.stats().repairWritesFailed).toBe(1);
  });

  it("writes nothing when the replicas agreed", async () => {
    const h = new Harness();
    h.outcome = { record: record(2), stale: [], answered: 2 };
    h.holding.add("b");
    h.holding.add("c");
    await h.repair.read({ key: "k", level: "quorum" });
    expect(h.held).toEqual([]);
    expect(h.repair.stats().foreground).toBe(0);
  });

  it("with chance 1, checks every replica in the background and repairs the one the read did not ask", async () => {
    const h = new Harness({ backgroundChance: 1 });
    h.records.get("a")?.set("k", record(2));
    h.records.get("b")?.set("k", record(2));
    h.outcome = { record: record(2), stale: [], answered: 2 };
    await h.repair.read({ key: "k", level: "quorum" });
    await h.repair.settled();
    expect([...h.digestReads].sort()).toEqual(["b", "c"]);
    expect(h.holds("c", "k")).toBe(2);
    expect(h.repair.stats()).toMatchObject({ background: 1, keysRepaired: 1 });
  });

  it("never overwrites a newer version a replica took meanwhile", async () => {
    const h = new Harness({ backgroundChance: 1 });
    h.records.get("c")?.set("k", record(9));
    h.outcome = { record: record(2), stale: [], answered: 2 };
    await h.repair.read({ key: "k", level: "quorum" });
    await h.repair.settled();
    expect(h.holds("c", "k")).toBe(9);
  });

  it("checks in the background exactly on the reads the seeded chance picks", async () => {
    const chance = 0.3;
    const h = new Harness({ backgroundChance: chance });
    h.outcome = { record: record(2), stale: [], answered: 2 };
    const replay = createRandom(SEED);
    let expected = 0;
    for (let i = 0; i < 50; i++) {
      const before = h.digestReads.length;
      await h.repair.read({ key: "k", level: "quorum" });
      await h.repair.settled();
      const picked = replay.next() < chance;
      if (picked) expected++;
      expect(h.digestReads.length > before).toBe(picked);
    }
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(50);
  });
});
