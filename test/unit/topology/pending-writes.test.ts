// The coordinator during a ring change (replication/coordinator.ts): a write also goes to the key's
// pending replicas (in the future ring, not the current one), but `w` is counted on current replicas
// only — a pending replica neither helps nor blocks the answer; a pending replica that misses the
// write gets a hint like any other; reads stay on current replicas.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { HybridClock } from "../../../src/time/hlc.js";
import { decodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import { GrapevineError } from "../../../src/core/errors.js";
import { Coordinator, type ReplicaMiss } from "../../../src/replication/coordinator.js";

// rf 2. Key token 150: current replicas b (owns (100, 200]) and c; d joins at 150 and becomes the
// key's primary in the future ring (replicas d, b): d is pending.
const CURRENT = TokenMap.build(new Map<NodeId, bigint[]>([["a", [100n]], ["b", [200n]], ["c", [300n]]]));
const FUTURE = TokenMap.build(new Map<NodeId, bigint[]>([["a", [100n]], ["b", [200n]], ["c", [300n]], ["d", [150n]]]));

type Answer = "ack" | "fail" | "hold";

class Harness {
  readonly answers = new Map<NodeId, Answer>([["a", "ack"], ["b", "ack"], ["c", "ack"], ["d", "ack"]]);
  readonly received = new Map<NodeId, StoredRecord[]>();
  readonly reads: NodeId[] = [];
  readonly live = new Set<NodeId>(["a", "b", "c", "d"]);
  readonly held: (() => void)[] = [];
  readonly misses: ReplicaMiss[] = [];
  timers: (() => void)[] = [];
  readonly coordinator: Coordinator;

  constructor(future: TokenMap) {
    const answer = (to: NodeId, then: () => void): Promise<void> => {
      const mode = this.answers.get(to) ?? "ack";
      if (mode === "fail") return Promise.reject(new Error(`${to} failed`));
      if (mode === "hold") return new Promise((resolve) => this.held.push(() => { then(); resolve(); }));
      then();
      return Promise.resolve();
    };
    this.coordinator = new Coordinator(
      { self: "a", replicationFactor: 2, requestTimeoutMs: 1_000 },
      {
        cluster: { ring: () => CURRENT, futureRing: () => future, isLive: (id) => this.live.has(id) },
        store: { apply: async () => ({ written: 1, superseded: 0 }), get: async () => undefined },
        transport: {
          write: (to, _key, encoded) => answer(to, () => this.received.set(to, [...(this.received.get(to) ?? []), decodeRecord(encoded)])),
          readData: async (to) => {
            this.reads.push(to);
            return undefined;
          },
          readDigest: async (to) => {
            this.reads.push(to);
            return null;
          },
        },
        clock: {
          schedule: (_ms, task) => {
            this.timers.push(task);
            return () => {
              this.timers = this.timers.filter((candidate) => candidate !== task);
            };
          },
        },
        hlc: new HybridClock(),
        wallUs: () => 1_000_000,
        tokenOf: () => 150n,
        onReplicaMiss: (miss) => this.misses.push(miss),
      },
    );
  }

  put(level: "one" | "quorum" | "all") {
    return this.coordinator.write({ key: "k", value: Buffer.from("v"), contentType: "text/plain", level });
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("writes during a ring change", () => {
  it("also sends the write to the pending replica, and answers on the current replicas' acknowledgements alone", async () => {
    const harness = new Harness(FUTURE);
    harness.answers.set("d", "hold");
    const outcome = await harness.put("all");
    // w=all is the 2 current replicas (b, c); d's answer was not needed.
    expect(outcome.acknowledged).toBe(2);
    expect(harness.received.has("b") && harness.received.has("c")).toBe(true);
    expect(harness.held).toHaveLength(1);
    harness.held[0]?.();
    await settle();
    expect(harness.received.get("d")).toHaveLength(1);
    expect(harness.misses).toEqual([]);
  });

  it("does not count the pending replica as alive: w=all with a current replica down is refused before trying", async () => {
    const harness = new Harness(FUTURE);
    harness.live.delete("c");
    await expect(harness.put("all")).rejects.toBeInstanceOf(GrapevineError);
    expect(harness.received.size).toBe(0);
  });

  it("reports a pending replica that failed the write as a miss (a hint), without failing the write", async () => {
    const harness = new Harness(FUTURE);
    harness.answers.set("d", "fail");
    await expect(harness.put("quorum")).resolves.toMatchObject({ acknowledged: 2 });
    await settle();
    expect(harness.misses).toHaveLength(1);
    expect(harness.misses[0]?.missed).toEqual([{ replica: "d", reason: "failed" }]);
  });

  it("sends nothing more when no ring change is in progress, and reads only current replicas", async () => {
    const harness = new Harness(CURRENT);
    await harness.put("all");
    expect([...harness.received.keys()].sort()).toEqual(["b", "c"]);
    const during = new Harness(FUTURE);
    await during.coordinator.read({ key: "k", level: "all" });
    expect(during.reads.sort()).toEqual(["b", "c"]);
  });
});
