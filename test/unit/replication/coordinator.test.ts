// The coordinator against a fake cluster, store and transport: when it answers, with what, and what
// it leaves behind (timers, in-flight counts, misses reported).

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GrapevineError } from "../../../src/core/errors.js";
import type { NodeId } from "../../../src/core/ids.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { HybridClock } from "../../../src/time/hlc.js";
import {
  compareRecords,
  decodeRecord,
  tombstoneRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import type { ApplyResult } from "../../../src/storage/store.js";
import {
  Coordinator,
  type CoordinatorOptions,
  type ReplicaMiss,
} from "../../../src/replication/coordinator.js";
import type { AckCover, AckHints } from "../../../src/replication/coordinator-types.js";
import { UNHINTED_AFTER_ACK_DEADLINES_MAX } from "../../../src/replication/write-round.js";
import type {
  ReplicaTransport,
  VersionDigest,
} from "../../../src/replication/replica-transport.js";
import type { ConsistencyLevel } from "../../../src/replication/consistency.js";

// Tokens chosen so that every key (token 150) lands in the range (100, 200] owned by "b":
// the preference list is b, c, a.
const RING = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
  ]),
);
const KEY_TOKEN = 150n;
const PROPERTY_SEED = 20_250_302;

/** A settled-or-not view of a promise, for asserting "not yet". */
function track<T>(promise: Promise<T>): {
  settled: () => boolean;
  value: () => T | undefined;
  error: () => unknown;
} {
  let settled = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (result) => {
      settled = true;
      value = result;
    },
    (failure: unknown) => {
      settled = true;
      error = failure;
    },
  );
  return { settled: () => settled, value: () => value, error: () => error };
}

/** Lets every queued promise callback run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

class ManualClock {
  tasks: { task: () => void; cancelled: boolean }[] = [];
  schedule(_delayMs: number, task: () => void): () => void {
    const entry = { task, cancelled: false };
    this.tasks.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }
  pending(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }
  /** The deadline passes: every armed timer fires. */
  fireAll(): void {
    const due = this.tasks.filter((task) => !task.cancelled);
    this.tasks = [];
    for (const entry of due) entry.task();
  }
}

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

type Behaviour = "ack" | "fail" | "hold";

/** One replica's records and how it answers. "hold" keeps the answer until the test releases it. */
class FakeReplica {
  readonly records = new Map<string, StoredRecord>();
  behaviour: Behaviour = "ack";
  held: Deferred[] = [];
  writes = 0;
  reads = 0;

  answer<T>(produce: () => T): Promise<T> {
    if (this.behaviour === "fail") return Promise.reject(new Error("replica failed"));
    if (this.behaviour === "ack") return Promise.resolve().then(produce);
    return new Promise<T>((resolve, reject) => {
      this.held.push({ resolve: () => resolve(produce()), reject });
    });
  }

  store(key: string, record: StoredRecord): void {
    const current = this.records.get(key);
    if (current === undefined || compareRecords(record, current) > 0) this.records.set(key, record);
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const deferred of held) deferred.resolve();
  }
}

class Harness {
  readonly replicas = new Map<NodeId, FakeReplica>([
    ["a", new FakeReplica()],
    ["b", new FakeReplica()],
    ["c", new FakeReplica()],
  ]);
  readonly live = new Set<NodeId>(["a", "b", "c"]);
  readonly clock = new ManualClock();
  readonly hlc = new HybridClock();
  wallUs = 1_000_000;
  readonly misses: ReplicaMiss[] = [];
  readonly transportCalls: string[] = [];
  ringSettled = true;
  localReadable = true;
  readonly coordinator: Coordinator;

  constructor(
    readonly self: NodeId = "a",
    options: Partial<CoordinatorOptions> = {},
    ackHints?: AckHints,
  ) {
    const replica = (id: NodeId): FakeReplica => {
      const found = this.replicas.get(id);
      if (found === undefined) throw new Error(`no replica ${id}`);
      return found;
    };
    const local = replica(self);
    const transport: ReplicaTransport = {
      write: (to, key, encoded) => {
        this.transportCalls.push(`write ${to}`);
        const target = replica(to);
        target.writes++;
        return target.answer(() => target.store(key, decodeRecord(encoded)));
      },
      readData: (to, key) => {
        this.transportCalls.push(`data ${to}`);
        const target = replica(to);
        target.reads++;
        return target.answer(() => target.records.get(key));
      },
      readDigest: (to, key) => {
        this.transportCalls.push(`digest ${to}`);
        const target = replica(to);
        target.reads++;
        return target.answer((): VersionDigest | null => {
          const record = target.records.get(key);
          return record === undefined
            ? null
            : { timestampUs: record.timestampUs, writer: record.writer };
        });
      },
    };
    this.coordinator = new Coordinator(
      { self, replicationFactor: 3, requestTimeoutMs: 500, ...options },
      {
        cluster: { ring: () => RING, isLive: (id) => this.live.has(id) },
        store: {
          apply: (writes: readonly KeyedRecord[]): Promise<ApplyResult> => {
            local.writes++;
            return local.answer(() => {
              for (const write of writes) local.store(write.key, write.record);
              return { written: writes.length, superseded: 0 };
            });
          },
          get: (key) => {
            local.reads++;
            return local.answer(() => local.records.get(key));
          },
        },
        transport,
        clock: this.clock,
        hlc: this.hlc,
        wallUs: () => this.wallUs,
        tokenOf: () => KEY_TOKEN,
        onReplicaMiss: (miss) => this.misses.push(miss),
        ringSettled: () => this.ringSettled,
        localReadable: () => this.localReadable,
        ...(ackHints === undefined ? {} : { ackHints }),
      },
    );
  }

  replica(id: NodeId): FakeReplica {
    const found = this.replicas.get(id);
    if (found === undefined) throw new Error(`no replica ${id}`);
    return found;
  }

  put(level: ConsistencyLevel, value = "v") {
    return this.coordinator.write({
      key: "k",
      value: Buffer.from(value),
      contentType: "text/plain",
      level,
    });
  }
}

function record(timestampUs: number, writer: NodeId, value = `v${timestampUs}`): StoredRecord {
  return {
    value: Buffer.from(value),
    contentType: "text/plain",
    timestampUs,
    writer,
    tombstone: false,
  };
}

async function rejection(promise: Promise<unknown>): Promise<GrapevineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GrapevineError) return error;
    throw error;
  }
  throw new Error("expected a GrapevineError, but the request succeeded");
}

describe("coordinator writes", () => {
  it("answers a quorum write once two replicas acknowledged, and not after one", async () => {
    const harness = new Harness("a");
    harness.replica("b").behaviour = "hold";
    harness.replica("c").behaviour = "hold";
    const write = track(harness.put("quorum"));
    await flush();
    // The local replica acknowledged; one is not a quorum of three.
    expect(harness.replica("a").records.has("k")).toBe(true);
    expect(write.settled()).toBe(false);
    harness.replica("b").release();
    await flush();
    expect(write.settled()).toBe(true);
    expect(write.value()?.acknowledged).toBe(2);
    expect(write.value()?.timestampUs).toBe(harness.replica("a").records.get("k")?.timestampUs);
  });

  it("writes the local replica through the store and only the others through the transport", async () => {
    const harness = new Harness("b");
    await harness.put("all");
    expect(harness.transportCalls.sort()).toEqual(["write a", "write c"]);
    for (const id of ["a", "b", "c"])
      expect(harness.replica(id).records.get("k")?.writer).toBe("b");
  });

  it("answers 503 unavailable before sending anything when fewer replicas are live than required", async () => {
    const harness = new Harness("a");
    harness.live.delete("b");
    harness.live.delete("c");
    const error = await rejection(harness.put("quorum"));
    expect(error.code).toBe("unavailable");
    expect(error.details).toEqual({ required: 2, alive: 1 });
    expect(harness.transportCalls).toEqual([]);
    expect(harness.replica("a").writes).toBe(0);
    expect(harness.clock.pending()).toBe(0);
    expect(harness.coordinator.stats().inFlight).toBe(0);
  });

  it("answers 503 unavailable with alive 0 when the ring is empty (no member is normal yet)", async () => {
    const coordinator = new Coordinator(
      { self: "a", replicationFactor: 3, requestTimeoutMs: 500 },
      {
        cluster: { ring: () => TokenMap.empty, isLive: () => true },
        store: {
          apply: () => Promise.reject(new Error("not called")),
          get: () => Promise.reject(new Error("not called")),
        },
        transport: {
          write: () => Promise.reject(new Error("not called")),
          readData: () => Promise.reject(new Error("not called")),
          readDigest: () => Promise.reject(new Error("not called")),
        },
        clock: new ManualClock(),
        hlc: new HybridClock(),
        wallUs: () => 1_000_000,
      },
    );
    const write = await rejection(
      coordinator.write({ key: "k", value: Buffer.from("v"), contentType: "", level: "one" }),
    );
    expect(write.details).toEqual({ required: 1, alive: 0 });
    const read = await rejection(coordinator.read({ key: "k", level: "quorum" }));
    expect(read.details).toEqual({ required: 2, alive: 0 });
  });

  it("answers 504 timeout at the deadline with the acknowledged count, and reports the misses", async () => {
    const harness = new Harness("a");
    harness.replica("c").behaviour = "hold";
    const write = track(harness.put("all"));
    await flush();
    expect(write.settled()).toBe(false);
    expect(harness.clock.pending()).toBe(1);
    harness.clock.fireAll();
    await flush();
    const error = write.error();
    expect(error).toBeInstanceOf(GrapevineError);
    expect((error as GrapevineError).code).toBe("timeout");
    expect((error as GrapevineError).details).toEqual({ required: 3, acknowledged: 2 });
    expect(harness.misses).toHaveLength(1);
    expect(harness.misses[0]?.missed).toEqual([{ replica: "c", reason: "timeout" }]);
    expect(harness.coordinator.stats().replicaTimeouts.get("c")).toBe(1);
    expect(harness.coordinator.stats().inFlight).toBe(0);
    // A late answer after the deadline changes nothing.
    harness.replica("c").release();
    await flush();
    expect(harness.misses).toHaveLength(1);
  });

  it("fails fast with timeout, without waiting for the deadline, once failures make the level unreachable", async () => {
    const harness = new Harness("a");
    harness.replica("b").behaviour = "fail";
    harness.replica("c").behaviour = "fail";
    const error = await rejection(harness.put("quorum"));
    expect(error.code).toBe("timeout");
    // Both failures arrive before the local acknowledgement: the answer does not wait for it.
    expect(error.details).toEqual({ required: 2, acknowledged: 0 });
    await flush();
    expect(harness.clock.pending()).toBe(0);
    expect(harness.coordinator.stats().replicaFailures.get("b")).toBe(1);
    expect(harness.misses[0]?.missed).toEqual([
      { replica: "b", reason: "failed" },
      { replica: "c", reason: "failed" },
    ]);
  });

  it("skips a down replica, still meets quorum with the others, and reports the down one as missed", async () => {
    const harness = new Harness("a");
    harness.live.delete("c");
    const outcome = await harness.put("quorum");
    await flush();
    expect(outcome.acknowledged).toBe(2);
    expect(harness.transportCalls).toEqual(["write b"]);
    expect(harness.misses).toEqual([
      {
        key: "k",
        record: harness.replica("a").records.get("k"),
        missed: [{ replica: "c", reason: "down" }],
      },
    ]);
  });

  it("clears its deadline timer once every replica settled, and reports nothing when all acknowledged", async () => {
    const harness = new Harness("a");
    await harness.put("one");
    await flush();
    expect(harness.clock.pending()).toBe(0);
    expect(harness.misses).toEqual([]);
    expect(harness.coordinator.stats().inFlight).toBe(0);
  });

  it("stamps a delete as a tombstone, newer than the value it deletes", async () => {
    const harness = new Harness("a");
    const written = await harness.put("all");
    harness.wallUs -= 5_000; // the wall clock stepped back: the HLC must not
    const deleted = await harness.coordinator.delete({ key: "k", level: "all" });
    expect(deleted.timestampUs).toBeGreaterThan(written.timestampUs);
    for (const id of ["a", "b", "c"])
      expect(harness.replica(id).records.get("k")?.tombstone).toBe(true);
  });

  it("refuses reads and writes with unavailable (starting) while the node is still learning the ring, sending nothing", async () => {
    const harness = new Harness("a");
    harness.ringSettled = false;
    const write = await rejection(harness.put("one"));
    expect(write.code).toBe("unavailable");
    expect(write.details["reason"]).toBe("starting");
    const read = await rejection(harness.coordinator.read({ key: "k", level: "one" }));
    expect(read.details["reason"]).toBe("starting");
    expect(harness.transportCalls).toEqual([]);
    harness.ringSettled = true;
    await expect(harness.put("quorum")).resolves.toMatchObject({ acknowledged: 2 });
  });

  it("refuses with unavailable (overloaded) past requestsInFlightMax, and admits again once one finished", async () => {
    const harness = new Harness("a", { requestsInFlightMax: 1 });
    harness.replica("b").behaviour = "hold";
    harness.replica("c").behaviour = "hold";
    const first = track(harness.put("all"));
    const error = await rejection(harness.put("one"));
    expect(error.code).toBe("unavailable");
    expect(error.details["reason"]).toBe("overloaded");
    harness.replica("b").release();
    harness.replica("c").release();
    await flush();
    expect(first.settled()).toBe(true);
    await expect(harness.put("one")).resolves.toMatchObject({ acknowledged: 1 });
  });

  it("never answers before `required` replicas acknowledged, whatever each replica does (property)", async () => {
    const behaviours = fc.constantFrom<Behaviour>("ack", "fail", "hold");
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(behaviours, behaviours, behaviours),
        fc.constantFrom<ConsistencyLevel>("one", "quorum", "all", 1, 2, 3),
        fc.constantFrom("a", "b", "c"),
        async ([ba, bb, bc], level, self) => {
          const harness = new Harness(self);
          harness.replica("a").behaviour = ba;
          harness.replica("b").behaviour = bb;
          harness.replica("c").behaviour = bc;
          const required =
            level === "one" ? 1 : level === "quorum" ? 2 : level === "all" ? 3 : level;
          const acks = [ba, bb, bc].filter((b) => b === "ack").length;
          const failures = [ba, bb, bc].filter((b) => b === "fail").length;
          const write = track(harness.put(level));
          await flush();
          if (acks >= required) {
            expect(write.value()?.acknowledged).toBe(required);
          } else if (3 - failures < required) {
            expect((write.error() as GrapevineError).code).toBe("timeout");
          } else {
            // Waiting on held replicas: no answer until the deadline.
            expect(write.settled()).toBe(false);
            harness.clock.fireAll();
            await flush();
            expect((write.error() as GrapevineError).details).toEqual({
              required,
              acknowledged: acks,
            });
          }
          // Whatever happened, the deadline is cleared or has fired once every replica settled.
          for (const id of ["a", "b", "c"]) harness.replica(id).release();
          await flush();
          expect(harness.clock.pending()).toBe(0);
          expect(harness.coordinator.stats().inFlight).toBe(0);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });
});

/**
 * Hints before acknowledgement, in memory: what was covered, withdrawn and kept; commits when told.
 */
class FakeAckHints implements AckHints {
  readonly covered: NodeId[][] = [];
  readonly withdrawn: NodeId[] = [];
  readonly kept: NodeId[] = [];
  #commit: (() => void)[] = [];
  cover(_key: string, _encoded: Uint8Array, replicas: readonly NodeId[]): AckCover {
    this.covered.push([...replicas]);
    const open = new Set(replicas);
    return {
      committed: new Promise<void>((resolve) => this.#commit.push(resolve)),
      acknowledged: (replica) => {
        if (open.delete(replica)) this.withdrawn.push(replica);
      },
      settle: () => {
        this.kept.push(...open);
        open.clear();
      },
    };
  }
  commit(): void {
    const due = this.#commit;
    this.#commit = [];
    for (const resolve of due) resolve();
  }
}

describe("coordinator writes with hints before acknowledgement", () => {
  it("without it, reports a replica still in flight at the answer no later than the round's one deadline", async () => {
    const harness = new Harness("a");
    harness.replica("c").behaviour = "hold";
    const write = track(harness.put("quorum"));
    await flush();
    expect(write.value()?.acknowledged).toBe(2);
    // The window in which a coordinator crash loses c's hint: open until the deadline.
    expect(harness.misses).toEqual([]);
    expect(harness.clock.pending()).toBe(UNHINTED_AFTER_ACK_DEADLINES_MAX);
    harness.clock.fireAll();
    expect(harness.misses[0]?.missed).toEqual([{ replica: "c", reason: "timeout" }]);
  });

  it("answers only once the outstanding replica's hint is committed, and withdraws it when the replica answers", async () => {
    const hints = new FakeAckHints();
    const harness = new Harness("a", {}, hints);
    harness.replica("c").behaviour = "hold";
    const write = track(harness.put("quorum"));
    await flush();
    // a and b acknowledged: the level is reached, c is outstanding, its hint not yet committed.
    expect(hints.covered).toEqual([["c"]]);
    expect(write.settled()).toBe(false);
    hints.commit();
    await flush();
    expect(write.value()?.acknowledged).toBe(2);
    harness.replica("c").release();
    await flush();
    expect(hints.withdrawn).toEqual(["c"]);
    expect(hints.kept).toEqual([]);
    expect(harness.misses).toEqual([]);
  });

  it("keeps the hint of a replica that never answers and does not report it as a miss again", async () => {
    const hints = new FakeAckHints();
    const harness = new Harness("a", {}, hints);
    harness.replica("c").behaviour = "hold";
    const write = track(harness.put("quorum"));
    await flush();
    hints.commit();
    await flush();
    expect(write.settled()).toBe(true);
    harness.clock.fireAll();
    await flush();
    expect(hints.kept).toEqual(["c"]);
    expect(harness.misses).toEqual([]);
    expect(harness.coordinator.stats().inFlight).toBe(0);
  });

  it("covers a down replica before answering instead of after the round", async () => {
    const hints = new FakeAckHints();
    const harness = new Harness("a", {}, hints);
    harness.live.delete("c");
    const write = track(harness.put("quorum"));
    await flush();
    expect(hints.covered).toEqual([["c"]]);
    expect(write.settled()).toBe(false);
    hints.commit();
    await flush();
    expect(write.value()?.acknowledged).toBe(2);
    expect(hints.kept).toEqual(["c"]);
    expect(harness.misses).toEqual([]);
  });

  it("waits for its own write when it is the replica outstanding (it cannot hint itself)", async () => {
    const hints = new FakeAckHints();
    const harness = new Harness("a", {}, hints);
    harness.replica("a").behaviour = "hold";
    const write = track(harness.put("quorum"));
    await flush();
    // b and c acknowledged; the local write is still queued: no hint, but no answer either.
    expect(hints.covered).toEqual([]);
    expect(write.settled()).toBe(false);
    harness.replica("a").release();
    await flush();
    expect(write.value()?.acknowledged).toBe(2);
  });

  it("answers at once, with no hint, when every replica acknowledged by the time the level is reached", async () => {
    const hints = new FakeAckHints();
    const harness = new Harness("a", {}, hints);
    const outcome = await harness.put("all");
    expect(outcome.acknowledged).toBe(3);
    expect(hints.covered).toEqual([]);
  });
});

describe("coordinator reads", () => {
  it("reads data from the local replica and a digest from the next, and returns the value when they agree", async () => {
    const harness = new Harness("a");
    for (const id of ["a", "b", "c"]) harness.replica(id).records.set("k", record(10, "x"));
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(outcome.record?.timestampUs).toBe(10);
    expect(outcome.stale).toEqual([]);
    // Local first, then the preference list b, c: one digest, from b.
    expect(harness.transportCalls).toEqual(["digest b"]);
    expect(harness.clock.pending()).toBe(0);
  });

  it("returns the newest version when a digest is newer than the data, fetched from the replica that has it", async () => {
    const harness = new Harness("a");
    harness.replica("a").records.set("k", record(10, "x", "old"));
    harness.replica("b").records.set("k", record(20, "x", "new"));
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(Buffer.from(outcome.record?.value ?? []).toString()).toBe("new");
    expect(outcome.stale).toEqual(["a"]);
    expect(harness.transportCalls).toEqual(["digest b", "data b"]);
  });

  it("orders equal timestamps by writer, as last-write-wins does", async () => {
    const harness = new Harness("a");
    harness.replica("a").records.set("k", record(10, "m"));
    harness.replica("b").records.set("k", record(10, "z"));
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(outcome.record?.writer).toBe("z");
    expect(outcome.stale).toEqual(["a"]);
  });

  it("returns a newer tombstone as the newest version (the API answers 404)", async () => {
    const harness = new Harness("a");
    harness.replica("a").records.set("k", record(10, "x"));
    harness.replica("b").records.set("k", tombstoneRecord(20, "x"));
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(outcome.record?.tombstone).toBe(true);
  });

  it("answers absent without fetching data when no replica has the key", async () => {
    const harness = new Harness("a");
    const outcome = await harness.coordinator.read({ key: "k", level: "all" });
    expect(outcome).toEqual({ record: undefined, stale: [], answered: 3 });
    expect(harness.transportCalls.sort()).toEqual(["digest b", "digest c"]);
  });

  it("names a replica that lacks the key as stale when another has it", async () => {
    const harness = new Harness("a");
    harness.replica("b").records.set("k", record(10, "x"));
    const outcome = await harness.coordinator.read({ key: "k", level: "all" });
    expect(outcome.record?.timestampUs).toBe(10);
    expect(outcome.stale.slice().sort()).toEqual(["a", "c"]);
  });

  it("asks the preference list in order, data first, when it is not a replica of the key itself", async () => {
    const harness = new Harness("a", { replicationFactor: 2 });
    for (const id of ["b", "c"]) harness.replica(id).records.set("k", record(10, "x"));
    const outcome = await harness.coordinator.read({ key: "k", level: "all" });
    expect(outcome.record?.timestampUs).toBe(10);
    expect(harness.transportCalls).toEqual(["data b", "digest c"]);
    expect(harness.replica("a").reads).toBe(0);
  });

  it("does not read its own copy while it recovers from a possible loss of writes: two others answer", async () => {
    const harness = new Harness("a");
    harness.replica("b").records.set("k", record(10, "x"));
    harness.replica("c").records.set("k", record(10, "x"));
    harness.localReadable = false;
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(outcome.record?.timestampUs).toBe(10);
    expect(harness.transportCalls).toEqual(["data b", "digest c"]);
    expect(harness.replica("a").reads).toBe(0);
    // With only one other replica live, a quorum cannot be read without its own copy.
    harness.live.delete("c");
    const refused = await rejection(harness.coordinator.read({ key: "k", level: "quorum" }));
    expect(refused.code).toBe("unavailable");
  });

  it("replaces a replica that failed with the next live one, in the same role", async () => {
    const harness = new Harness("a");
    for (const id of ["a", "b", "c"]) harness.replica(id).records.set("k", record(10, "x"));
    harness.replica("a").behaviour = "fail";
    const outcome = await harness.coordinator.read({ key: "k", level: "quorum" });
    expect(outcome.record?.timestampUs).toBe(10);
    // a (local data) failed, so c was asked for data in its place.
    expect(harness.transportCalls).toEqual(["digest b", "data c"]);
    expect(harness.coordinator.stats().replicaFailures.get("a")).toBe(1);
  });

  it("answers 503 unavailable for a quorum read with one live replica, before asking any", async () => {
    const harness = new Harness("a");
    harness.live.delete("b");
    harness.live.delete("c");
    const error = await rejection(harness.coordinator.read({ key: "k", level: "quorum" }));
    expect(error.code).toBe("unavailable");
    expect(error.details).toEqual({ required: 2, alive: 1 });
    expect(harness.replica("a").reads).toBe(0);
  });

  it("answers 504 timeout at the deadline with how many replicas answered", async () => {
    const harness = new Harness("a");
    harness.replica("b").behaviour = "hold";
    harness.replica("c").behaviour = "hold";
    const read = track(harness.coordinator.read({ key: "k", level: "all" }));
    await flush();
    expect(read.settled()).toBe(false);
    harness.clock.fireAll();
    await flush();
    expect((read.error() as GrapevineError).code).toBe("timeout");
    expect((read.error() as GrapevineError).details).toEqual({ required: 3, acknowledged: 1 });
    expect(harness.coordinator.stats().inFlight).toBe(0);
  });

  it("does not answer with an older version when the replica that claimed a newer one cannot hand it over", async () => {
    const harness = new Harness("a");
    harness.replica("a").records.set("k", record(10, "x"));
    harness.replica("b").records.set("k", record(20, "x"));
    harness.replica("c").records.set("k", record(10, "x"));
    const coordinator = harness.coordinator;
    // b answers its digest, then fails when asked for the record.
    let bCalls = 0;
    const replicaB = harness.replica("b");
    const original = replicaB.answer.bind(replicaB);
    replicaB.answer = <T>(produce: () => T): Promise<T> =>
      ++bCalls === 1 ? original(produce) : Promise.reject(new Error("b went away"));
    const error = await rejection(coordinator.read({ key: "k", level: "quorum" }));
    expect(error.code).toBe("timeout");
  });

  it("merges the version it returns into the hybrid logical clock, so a later write is ordered after it", async () => {
    const harness = new Harness("a");
    const future = harness.wallUs + 30_000_000;
    harness.replica("a").records.set("k", record(future, "x"));
    harness.replica("b").records.set("k", record(future, "x"));
    await harness.coordinator.read({ key: "k", level: "quorum" });
    const written = await harness.put("one");
    expect(written.timestampUs).toBeGreaterThan(future);
  });
});
