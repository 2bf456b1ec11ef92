// The coordinator during a ring change (replication/coordinator.ts): a write also goes to the key's
// pending replicas (in the future ring, not the current one) and, as Cassandra's blockFor, needs
// one more acknowledgement per pending replica, counted over current and pending replicas alike, so
// that a quorum of either ring holds an acknowledged quorum write; a pending replica that misses
// the write gets a hint like any other; reads stay on current replicas.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { HybridClock } from "../../../src/time/hlc.js";
import { decodeRecord, type StoredRecord } from "../../../src/storage/record.js";
import { Coordinator, type ReplicaMiss } from "../../../src/replication/coordinator.js";
import { requiredReplicas } from "../../../src/replication/consistency.js";
import { sharedReplicasFor } from "../../../src/ring/placement.js";

// rf 2. Key token 150: current replicas b (owns (100, 200]) and c; d joins at 150 and becomes the
// key's primary in the future ring (replicas d, b): d is pending.
const CURRENT = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
  ]),
);
const FUTURE = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
    ["d", [150n]],
  ]),
);

// rf 3, the simulator's seed 4089250117 in small: current replicas of token 150 are b, c, e; d
// joins at 150, so the future replicas are d, b, c and d is pending.
const CURRENT_RF3 = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
    ["e", [400n]],
  ]),
);
const FUTURE_RF3 = TokenMap.build(
  new Map<NodeId, bigint[]>([
    ["a", [100n]],
    ["b", [200n]],
    ["c", [300n]],
    ["e", [400n]],
    ["d", [150n]],
  ]),
);

type Answer = "ack" | "fail" | "hold";

class Harness {
  readonly answers = new Map<NodeId, Answer>([
    ["a", "ack"],
    ["b", "ack"],
    ["c", "ack"],
    ["d", "ack"],
  ]);
  readonly received = new Map<NodeId, StoredRecord[]>();
  readonly reads: NodeId[] = [];
  readonly live = new Set<NodeId>(["a", "b", "c", "d", "e"]);
  readonly held: (() => void)[] = [];
  readonly misses: ReplicaMiss[] = [];
  timers: (() => void)[] = [];
  readonly coordinator: Coordinator;

  constructor(future: TokenMap, current = CURRENT, replicationFactor = 2) {
    const answer = (to: NodeId, then: () => void): Promise<void> => {
      const mode = this.answers.get(to) ?? "ack";
      if (mode === "fail") return Promise.reject(new Error(`${to} failed`));
      if (mode === "hold")
        return new Promise((resolve) =>
          this.held.push(() => {
            then();
            resolve();
          }),
        );
      then();
      return Promise.resolve();
    };
    this.coordinator = new Coordinator(
      { self: "a", replicationFactor, requestTimeoutMs: 1_000 },
      {
        cluster: {
          ring: () => current,
          futureRing: () => future,
          isLive: (id) => this.live.has(id),
        },
        store: { apply: async () => ({ written: 1, superseded: 0 }), get: async () => undefined },
        transport: {
          write: (to, _key, encoded) =>
            answer(to, () =>
              this.received.set(to, [...(this.received.get(to) ?? []), decodeRecord(encoded)]),
            ),
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
    return this.coordinator.write({
      key: "k",
      value: Buffer.from("v"),
      contentType: "text/plain",
      level,
    });
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Every way the replicas a..e may answer: each either acknowledges or fails. */
function answerPatterns(nodes: readonly NodeId[]): Map<NodeId, Answer>[] {
  return Array.from(
    { length: 2 ** nodes.length },
    (_, bits) =>
      new Map(
        nodes.map((node, index): [NodeId, Answer] => [node, (bits >> index) & 1 ? "fail" : "ack"]),
      ),
  );
}

describe("writes during a ring change", () => {
  it("needs one more acknowledgement for the pending replica: it waits for d when b and c have answered", async () => {
    const harness = new Harness(FUTURE);
    harness.answers.set("d", "hold");
    let outcome: unknown = undefined;
    void harness.put("quorum").then((answer) => (outcome = answer));
    await settle();
    expect(harness.received.has("b") && harness.received.has("c")).toBe(true);
    expect(outcome).toBeUndefined();
    expect(harness.held).toHaveLength(1);
    harness.held[0]?.();
    await settle();
    expect(outcome).toMatchObject({ acknowledged: 3 });
    expect(harness.received.get("d")).toHaveLength(1);
    expect(harness.misses).toEqual([]);
  });

  it("fails a quorum write that a quorum of the future replicas may miss (seed 4089250117)", async () => {
    // b and the pending d refuse; c and e acknowledge: a quorum of the current replicas, but the
    // future replicas' quorum {d, b} holds nothing, so the write must not be acknowledged.
    const harness = new Harness(FUTURE_RF3, CURRENT_RF3, 3);
    harness.answers.set("b", "fail");
    harness.answers.set("d", "fail");
    await expect(harness.put("quorum")).rejects.toMatchObject({
      code: "timeout",
      details: { required: 3 },
    });
  });

  it("leaves every acknowledged quorum write on a quorum of the current and of the future replicas", async () => {
    const quorum = requiredReplicas("quorum", 3);
    const rings = [sharedReplicasFor(CURRENT_RF3, 150n, 3), sharedReplicasFor(FUTURE_RF3, 150n, 3)];
    for (const answers of answerPatterns(["b", "c", "d", "e"])) {
      const harness = new Harness(FUTURE_RF3, CURRENT_RF3, 3);
      for (const [node, answer] of answers) harness.answers.set(node, answer);
      const acknowledged = await harness.put("quorum").then(
        () => true,
        () => false,
      );
      if (!acknowledged) continue;
      for (const replicas of rings) {
        const holding = replicas.filter((node) => harness.received.has(node));
        expect(holding.length, `answers ${JSON.stringify([...answers])}`).toBeGreaterThanOrEqual(
          quorum,
        );
      }
    }
  });

  it("counts the pending replica as alive: w=one with a current replica down still starts, on b and d", async () => {
    const harness = new Harness(FUTURE);
    harness.live.delete("c");
    await expect(harness.put("one")).resolves.toMatchObject({ acknowledged: 2 });
    expect([...harness.received.keys()].sort()).toEqual(["b", "d"]);
  });

  it("refuses before trying when current and pending replicas together are too few alive", async () => {
    const harness = new Harness(FUTURE);
    harness.live.delete("c");
    await expect(harness.put("quorum")).rejects.toMatchObject({
      code: "unavailable",
      details: { required: 3, alive: 2 },
    });
    expect(harness.received.size).toBe(0);
  });

  it("reports a pending replica that failed the write as a miss (a hint)", async () => {
    const harness = new Harness(FUTURE);
    harness.answers.set("d", "fail");
    await expect(harness.put("one")).resolves.toMatchObject({ acknowledged: 2 });
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
