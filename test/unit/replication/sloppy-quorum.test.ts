// The sloppy quorum (issue 16 §4): the pure arithmetic of pw/pr and fallback choice, and the
// coordinator's writes and reads through fallbacks against an in-memory five-node cluster.

import { describe, expect, it } from "vitest";
import { GrapevineError } from "../../../src/core/errors.js";
import type { NodeId } from "../../../src/core/ids.js";
import { sharedReplicasFor } from "../../../src/ring/placement.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { HybridClock } from "../../../src/time/hlc.js";
import { decodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import { Coordinator, type ReplicaMiss } from "../../../src/replication/coordinator.js";
import type { FallbackOutcome } from "../../../src/replication/fallback-copies.js";
import {
  checkedPrimaries,
  fallbacksFor,
  parsePrimaryLevel,
  preferenceListLength,
  requiredPrimaries,
} from "../../../src/replication/sloppy-quorum.js";

// Every key (token 150) lands in (100, 200], owned by b: replicas b, c, d; then e, a.
const RING = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
    ["d", [400n]],
    ["e", [500n]],
  ]),
);
const KEY_TOKEN = 150n;

describe("pw and pr arithmetic", () => {
  it("parses 0 and every consistency level, and refuses the rest with bad_consistency", () => {
    expect(parsePrimaryLevel("0", 3)).toBe(0);
    expect(parsePrimaryLevel(" Quorum ", 3)).toBe("quorum");
    expect(parsePrimaryLevel("2", 3)).toBe(2);
    for (const bad of ["-1", "4", "some", ""]) {
      expect(() => parsePrimaryLevel(bad, 3)).toThrow(GrapevineError);
      try {
        parsePrimaryLevel(bad, 3);
      } catch (error) {
        expect((error as GrapevineError).code).toBe("bad_consistency");
      }
    }
  });

  it("counts primaries: 0 is none, a level its replicas", () => {
    expect(requiredPrimaries(0, 3)).toBe(0);
    expect(requiredPrimaries("quorum", 3)).toBe(2);
    expect(requiredPrimaries("all", 5)).toBe(5);
  });

  it("is strict by default (pw = w) and refuses pw above w with 400 naming both", () => {
    expect(checkedPrimaries("pw", undefined, "quorum", 3)).toBe(2);
    expect(checkedPrimaries("pw", 0, "quorum", 3)).toBe(0);
    expect(checkedPrimaries("pr", 1, "all", 3)).toBe(1);
    let refused: GrapevineError | undefined;
    try {
      checkedPrimaries("pw", "all", "one", 3);
    } catch (error) {
      refused = error as GrapevineError;
    }
    expect(refused?.code).toBe("bad_consistency");
    expect(refused?.message).toContain("pw");
    expect(refused?.message).toContain("w (one");
  });
});

describe("the preference list with fallbacks", () => {
  const preference = sharedReplicasFor(RING, KEY_TOKEN, preferenceListLength(3));
  const replicas = sharedReplicasFor(RING, KEY_TOKEN, 3);

  it("starts with the replicas and goes on with the next distinct nodes of the ring", () => {
    expect(replicas).toEqual(["b", "c", "d"]);
    expect(preference).toEqual(["b", "c", "d", "e", "a"]);
  });

  it("gives each down primary, in order, the next live node past the replica set", () => {
    const up = (down: readonly NodeId[]) => (node: NodeId) => !down.includes(node);
    expect(fallbacksFor(preference, replicas, up([]))).toEqual([]);
    expect(fallbacksFor(preference, replicas, up(["c"]))).toEqual([{ node: "e", primary: "c" }]);
    expect(fallbacksFor(preference, replicas, up(["c", "d"]))).toEqual([
      { node: "e", primary: "c" },
      { node: "a", primary: "d" },
    ]);
    // A down candidate is skipped; a primary past the candidates gets none.
    expect(fallbacksFor(preference, replicas, up(["c", "d", "e"]))).toEqual([
      { node: "a", primary: "c" },
    ]);
    // A node that keeps no fallbacks is no candidate.
    expect(
      fallbacksFor(preference, replicas, up(["c"]), (node) => node !== "e" && up(["c"])(node)),
    ).toEqual([{ node: "a", primary: "c" }]);
  });
});

/** Five nodes in memory: each with its data and the fallback copies it holds, by primary. */
class Cluster {
  readonly data = new Map<NodeId, Map<string, StoredRecord>>();
  readonly held = new Map<NodeId, { primary: NodeId; key: string; record: StoredRecord }[]>();
  readonly live = new Set<NodeId>(["a", "b", "c", "d", "e"]);
  readonly misses: ReplicaMiss[] = [];
  full = new Set<NodeId>();
  /** Live (by the detector) but failing every operation. */
  failing = new Set<NodeId>();
  wallUs = 1_000_000;

  constructor() {
    for (const id of this.live) {
      this.data.set(id, new Map());
      this.held.set(id, []);
    }
  }

  hold(node: NodeId, primary: NodeId, key: string, encoded: Uint8Array): FallbackOutcome {
    if (this.full.has(node)) return "full";
    this.held.get(node)?.push({ primary, key, record: decodeRecord(encoded) });
    return "stored";
  }

  coordinator(self: NodeId): Coordinator {
    const data = (id: NodeId): Map<string, StoredRecord> =>
      this.data.get(id) ?? new Map<string, StoredRecord>();
    const copy = (id: NodeId, key: string): StoredRecord | undefined =>
      this.held.get(id)?.find((entry) => entry.key === key)?.record;
    const up = (id: NodeId): Promise<void> =>
      this.live.has(id) && !this.failing.has(id)
        ? Promise.resolve()
        : Promise.reject(new Error(`${id} down`));
    return new Coordinator(
      { self, replicationFactor: 3, requestTimeoutMs: 500 },
      {
        cluster: { ring: () => RING, isLive: (id) => this.live.has(id) },
        store: {
          apply: async (writes) => {
            for (const write of writes) data(self).set(write.key, write.record);
            return { written: writes.length, superseded: 0 };
          },
          get: async (key) => data(self).get(key),
        },
        transport: {
          write: (to, key, encoded) =>
            up(to).then(() => void data(to).set(key, decodeRecord(encoded))),
          readData: (to, key) => up(to).then(() => data(to).get(key)),
          readDigest: (to, key) =>
            up(to).then(() => {
              const record = data(to).get(key);
              return record === undefined
                ? null
                : { timestampUs: record.timestampUs, writer: record.writer };
            }),
          writeFallback: (to, primary, key, encoded) =>
            up(to).then(() => {
              if (this.hold(to, primary, key, encoded) !== "stored") throw new Error("full");
            }),
          readFallback: (to, key) => up(to).then(() => copy(to, key)),
        },
        clock: { schedule: () => () => undefined },
        hlc: new HybridClock(),
        wallUs: () => this.wallUs++,
        tokenOf: () => KEY_TOKEN,
        onReplicaMiss: (miss) => this.misses.push(miss),
        fallbacks: {
          store: async (primary, key, encoded) => this.hold(self, primary, key, encoded),
          find: async (key) => copy(self, key),
        },
      },
    );
  }
}

async function rejection(promise: Promise<unknown>): Promise<GrapevineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GrapevineError) return error;
    throw error;
  }
  throw new Error("expected a GrapevineError");
}

const value = Buffer.from("v");

describe("coordinator writes and reads through fallbacks", () => {
  it("refuses a strict write with two of three primaries down, before sending anything", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    const coordinator = cluster.coordinator("a");
    const error = await rejection(
      coordinator.write({ key: "k", value, contentType: "", level: "quorum" }),
    );
    expect(error.code).toBe("unavailable");
    expect(error.details).toEqual({ required: 2, alive: 1 });
    expect(cluster.held.get("e")).toEqual([]);
    expect(cluster.data.get("b")?.size).toBe(0);
  });

  it("takes a pw=0 write through the fallbacks, which hold it for the down primaries", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    const coordinator = cluster.coordinator("a");
    const outcome = await coordinator.write({
      key: "k",
      value,
      contentType: "",
      level: "quorum",
      primaryLevel: 0,
    });
    expect(outcome.acknowledged).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cluster.data.get("b")?.has("k")).toBe(true);
    // e stands in for c, and the coordinator a itself for d: a copy, never data of its own.
    expect(cluster.held.get("e")?.map(({ primary }) => primary)).toEqual(["c"]);
    expect(cluster.held.get("a")?.map(({ primary }) => primary)).toEqual(["d"]);
    expect(cluster.data.get("a")?.has("k")).toBe(false);
    // The fallbacks hold the write: the coordinator owes the down primaries no hint of its own.
    expect(cluster.misses).toEqual([]);
  });

  it("refuses with unavailable (primaries) when fewer primaries than pw are live", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    const error = await rejection(
      cluster
        .coordinator("a")
        .write({ key: "k", value, contentType: "", level: "all", primaryLevel: 2 }),
    );
    expect(error.code).toBe("unavailable");
    // w=all is reachable with the two fallbacks; pw=2 is not with one live primary.
    expect(error.details).toEqual({ required: 2, alive: 1, reason: "primaries" });
    expect(cluster.held.get("e")).toEqual([]);
  });

  it("fails 504 naming the primaries when pw can no longer be met, though w could", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    cluster.failing.add("b");
    const error = await rejection(
      cluster
        .coordinator("a")
        .write({ key: "k", value, contentType: "", level: "quorum", primaryLevel: 1 }),
    );
    expect(error.code).toBe("timeout");
    expect(error.details).toEqual({ required: 1, acknowledged: 0 });
  });

  it("asks the next candidate when a fallback refuses (full)", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.full.add("e");
    await cluster
      .coordinator("b")
      .write({ key: "k", value, contentType: "", level: "all", primaryLevel: 0 });
    // e, the first candidate, is full: a, the next, holds the copy for c.
    expect(cluster.held.get("a")?.map(({ primary }) => primary)).toEqual(["c"]);
    expect(cluster.misses).toEqual([]);
  });

  it("keeps the coordinator's hint for a primary whose fallback refused (full)", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    cluster.full.add("e");
    const outcome = await cluster
      .coordinator("a")
      .write({ key: "k", value, contentType: "", level: "quorum", primaryLevel: 0 });
    expect(outcome.acknowledged).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cluster.misses.flatMap(({ missed }) => missed.map(({ replica }) => replica))).toEqual([
      "c",
    ]);
  });

  it("reads at pr=0 from the fallback copies, and refuses a strict read", async () => {
    const cluster = new Cluster();
    cluster.live.delete("c");
    cluster.live.delete("d");
    await cluster
      .coordinator("e")
      .write({ key: "k", value, contentType: "", level: "quorum", primaryLevel: 0 });
    // Only the fallback copies and b hold it; b loses it, so only a fallback can answer.
    cluster.data.get("b")?.delete("k");
    const read = await cluster.coordinator("b").read({ key: "k", level: 2, primaryLevel: 0 });
    expect(read.record?.value.toString()).toBe("v");
    // A fallback is never named stale: read repair writes only to replicas.
    expect(read.stale).toEqual(["b"]);
    const strict = await rejection(cluster.coordinator("b").read({ key: "k", level: 2 }));
    expect(strict.code).toBe("unavailable");
  });
});
