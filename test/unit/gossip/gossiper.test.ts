import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { createRandom, forkSeed } from "../../../src/core/random.js";
import { decodePeerBody, encodePeerBody } from "../../../src/net/codec.js";
import { summarize } from "../../../src/gossip/digest.js";
import {
  Gossiper,
  type GossipChange,
  type GossiperOptions,
  type GossipOutbound,
} from "../../../src/gossip/gossiper.js";
import {
  estimateEntryBytes,
  estimateStateBytes,
  validateGossipMessage,
  type Delta,
  type GossipMessage,
} from "../../../src/gossip/messages.js";

const GENERATION_BASE = 1_700_000_000_000;
const URGENT_KEYS = ["status", "votes"];
const always = (): boolean => true;

function idOf(i: number): string {
  return `node-${String(i).padStart(3, "0")}`;
}

function addressOf(i: number): string {
  return `127.0.0.1:${7000 + i}`;
}

function gossiperFor(i: number, random: number, options: Partial<GossiperOptions> = {}): Gossiper {
  return new Gossiper(
    {
      self: idOf(i),
      address: addressOf(i),
      generation: GENERATION_BASE + i,
      seeds: [],
      urgentKeys: URGENT_KEYS,
      rumorFanout: 3,
      ...options,
    },
    createRandom(random),
  );
}

/** Every message goes through msgpack and validation, as it would between two real nodes. */
function overTheWire(message: GossipMessage): GossipMessage {
  return validateGossipMessage(decodePeerBody(encodePeerBody(message)));
}

interface TestNode {
  readonly index: number;
  readonly id: string;
  readonly address: string;
  gossiper: Gossiper;
  up: boolean;
}

interface TestClusterOptions {
  readonly size: number;
  readonly seed: number;
  readonly seedCount: number;
  readonly gossiper?: Partial<GossiperOptions>;
  /** Extra states each node publishes before its first round. */
  readonly states?: (i: number) => Record<string, string>;
}

/**
 * N gossipers joined by a lossless in-test network that delivers FIFO until nothing is left to
 * send.
 */
class TestCluster {
  readonly nodes: TestNode[] = [];
  readonly sentByKind = new Map<string, number>();
  deltaBytesMaxSeen = 0;
  private readonly byAddress = new Map<string, TestNode>();
  private readonly random;
  private readonly options: TestClusterOptions;
  private nowMs = 0;

  constructor(options: TestClusterOptions) {
    this.options = options;
    this.random = createRandom(options.seed);
    for (let i = 0; i < options.size; i++) {
      const node: TestNode = {
        index: i,
        id: idOf(i),
        address: addressOf(i),
        gossiper: this.start(i, 0),
        up: true,
      };
      this.nodes.push(node);
      this.byAddress.set(node.address, node);
    }
  }

  /** A (re)start of node i: a fresh gossiper, a larger generation for every restart. */
  start(i: number, restarts: number): Gossiper {
    const seeds = Array.from({ length: this.options.seedCount }, (_, s) => addressOf(s));
    const gossiper = gossiperFor(i, forkSeed(this.random), {
      seeds,
      generation: GENERATION_BASE + i + restarts * 1_000_000,
      ...this.options.gossiper,
    });
    gossiper.setLocal("status", "joining");
    gossiper.setLocal("tokens", `${i * 7},${i * 7 + 1}`);
    for (const [key, value] of Object.entries(this.options.states?.(i) ?? {}))
      gossiper.setLocal(key, value);
    return gossiper;
  }

  readonly isLive = (id: string): boolean => this.nodes.find((n) => n.id === id)?.up ?? false;

  get sent(): number {
    let total = 0;
    for (const count of this.sentByKind.values()) total += count;
    return total;
  }

  deliver(outbounds: GossipOutbound[]): void {
    const queue = [...outbounds];
    for (let step = 0; queue.length > 0; step++) {
      expect(step).toBeLessThan(1_000_000);
      const outbound = queue.shift() as GossipOutbound;
      this.sentByKind.set(
        outbound.message.kind,
        (this.sentByKind.get(outbound.message.kind) ?? 0) + 1,
      );
      this.noteDeltaBytes(outbound.message);
      const node = this.byAddress.get(outbound.address);
      if (node === undefined || !node.up) continue;
      if (outbound.to !== null) expect(outbound.to).toBe(node.id);
      queue.push(...node.gossiper.receive(overTheWire(outbound.message), this.nowMs, this.isLive));
    }
  }

  round(): void {
    this.nowMs += 1000;
    const outbounds: GossipOutbound[] = [];
    for (const node of this.nodes)
      if (node.up) outbounds.push(...node.gossiper.tick(this.nowMs, this.isLive));
    this.deliver(outbounds);
  }

  /**
   * Rounds until every live node holds the same summary over every node; returns how many it took.
   */
  roundsToConverge(roundsMax: number): number {
    for (let round = 1; round <= roundsMax; round++) {
      this.round();
      if (this.converged()) return round;
    }
    return Number.POSITIVE_INFINITY;
  }

  converged(): boolean {
    const live = this.nodes.filter((n) => n.up);
    const first = live[0]?.gossiper.summary();
    return live.every(
      (n) => n.gossiper.summary() === first && n.gossiper.knownIds().length === this.nodes.length,
    );
  }

  private noteDeltaBytes(message: GossipMessage): void {
    if (
      message.kind !== "gossip-ack" &&
      message.kind !== "gossip-ack2" &&
      message.kind !== "gossip-rumor"
    )
      return;
    let bytes = 0;
    for (const delta of message.deltas) {
      bytes += estimateEntryBytes(delta.id, delta.address);
      for (const state of delta.states) bytes += estimateStateBytes(state.key, state.value);
    }
    this.deltaBytesMaxSeen = Math.max(this.deltaBytesMaxSeen, bytes);
  }
}

/** Every member's state as its owner holds it, to compare with what others hold. */
function ownStates(cluster: TestCluster): Map<string, unknown> {
  const states = new Map<string, unknown>();
  for (const node of cluster.nodes) {
    const own = node.gossiper.endpoint(node.id);
    states.set(node.id, {
      generation: own?.generation,
      appStates: [...(own?.appStates ?? [])].sort(),
    });
  }
  return states;
}

function viewOf(gossiper: Gossiper, id: string): unknown {
  const endpoint = gossiper.endpoint(id);
  return { generation: endpoint?.generation, appStates: [...(endpoint?.appStates ?? [])].sort() };
}

function recomputedSummary(gossiper: Gossiper): string {
  return summarize(
    gossiper.knownIds().map((id) => {
      const endpoint = gossiper.endpoint(id);
      return { id, generation: endpoint?.generation ?? 0, maxVersion: endpoint?.maxVersion ?? 0 };
    }),
  );
}

function ack2(from: string, deltas: Delta[]): GossipMessage {
  return overTheWire({ kind: "gossip-ack2", from, fromAddress: "127.0.0.1:9999", deltas });
}

function delta(
  id: string,
  generation: number,
  claim: [number, number],
  states: Array<[string, string, number]>,
): Delta {
  return {
    id,
    address: `${id}.example:7001`,
    generation,
    fromVersion: claim[0],
    throughVersion: claim[1],
    states: states.map(([key, value, version]) => ({ key, value, version })),
  };
}

describe("Gossiper local state", () => {
  it("spends a version only on a real change, and announces itself as joined first", () => {
    const g = gossiperFor(0, 1);
    g.setLocal("status", "joining");
    g.setLocal("status", "joining");
    g.setLocal("tokens", "1,2");
    expect(g.endpoint(idOf(0))?.maxVersion).toBe(2);
    expect(g.endpoint(idOf(0))?.appStates.get("status")).toMatchObject({
      value: "joining",
      version: 1,
    });
    expect(g.takeChanges()).toEqual<GossipChange[]>([
      { kind: "joined", id: idOf(0) },
      { kind: "updated", id: idOf(0) },
    ]);
    expect(g.takeChanges()).toEqual([]);
  });

  it("refuses keys and values over their bounds as a bug in the caller", () => {
    const g = gossiperFor(0, 1, { appStatesPerEndpointMax: 2 });
    expect(() => g.setLocal("k".repeat(65), "v")).toThrow();
    expect(() => g.setLocal("k", "v".repeat(131_073))).toThrow();
    g.setLocal("a", "1");
    g.setLocal("b", "1");
    expect(() => g.setLocal("c", "1")).toThrow(/appStatesPerEndpointMax/);
  });
});

describe("Gossiper exchange", () => {
  it("a full SYN → digests → ACK → ACK2 exchange leaves both sides with the union of their states", () => {
    const a = gossiperFor(0, 1, { seeds: [addressOf(1)] });
    const b = gossiperFor(1, 2);
    const c = gossiperFor(2, 3, { seeds: [addressOf(1)] });
    for (const [i, g] of [a, b, c].entries()) {
      g.setLocal("status", "normal");
      g.setLocal("tokens", String(i));
    }
    // b first learns c, through the same exchange.
    const run = (initiator: Gossiper, peer: Gossiper): string[] => {
      const kinds: string[] = [];
      let inFlight = initiator.tick(0, always);
      let turn = peer;
      while (inFlight.length > 0) {
        expect(inFlight).toHaveLength(1);
        const message = overTheWire((inFlight[0] as GossipOutbound).message);
        kinds.push(message.kind);
        inFlight = turn.receive(message, 0, always);
        turn = turn === peer ? initiator : peer;
      }
      return kinds;
    };
    expect(run(c, b)).toEqual(["gossip-syn", "gossip-digests", "gossip-ack", "gossip-ack2"]);
    a.takeChanges();
    b.takeChanges();

    expect(run(a, b)).toEqual(["gossip-syn", "gossip-digests", "gossip-ack", "gossip-ack2"]);
    expect(a.summary()).toBe(b.summary());
    expect(a.knownIds()).toEqual([idOf(0), idOf(1), idOf(2)]);
    for (const id of [idOf(0), idOf(1), idOf(2)]) expect(viewOf(a, id)).toEqual(viewOf(b, id));
    expect(a.takeChanges()).toEqual([
      { kind: "joined", id: idOf(1) },
      { kind: "joined", id: idOf(2) },
    ]);
    expect(b.takeChanges()).toEqual([{ kind: "joined", id: idOf(0) }]);
  });

  it("two gossipers that agree exchange exactly one small message per round", () => {
    const cluster = new TestCluster({ size: 2, seed: 11, seedCount: 1 });
    expect(cluster.roundsToConverge(5)).toBeLessThanOrEqual(2);
    const before = cluster.sent;
    for (let round = 0; round < 20; round++) {
      for (const node of cluster.nodes) {
        const out = node.gossiper.tick(0, cluster.isLive);
        expect(out).toHaveLength(1);
        const syn = out[0] as GossipOutbound;
        expect(syn.message.kind).toBe("gossip-syn");
        expect(encodePeerBody(syn.message).length).toBeLessThan(96);
        const peer = cluster.nodes.find((n) => n.id === syn.to) as TestNode;
        expect(peer.gossiper.receive(overTheWire(syn.message), 0, cluster.isLive)).toEqual([]);
      }
    }
    expect(cluster.sent).toBe(before);
  });

  it("states a node changes after convergence reach the others by exchange, and the summaries agree again", () => {
    const cluster = new TestCluster({ size: 8, seed: 12, seedCount: 1 });
    expect(cluster.roundsToConverge(20)).toBeLessThan(20);
    const owner = cluster.nodes[5] as TestNode;
    owner.gossiper.setLocal("load", "100,2000");
    expect(cluster.converged()).toBe(false);
    expect(cluster.roundsToConverge(20)).toBeLessThan(20);
    for (const node of cluster.nodes) {
      expect(node.gossiper.endpoint(owner.id)?.appStates.get("load")?.value).toBe("100,2000");
    }
  });

  it("rotates the digest window and truncated deltas so that no member is starved", () => {
    const bigValue = (i: number) => String(i).repeat(3000).slice(0, 3000);
    const budget = 8_000; // about two big states per message
    const cluster = new TestCluster({
      size: 16,
      seed: 13,
      seedCount: 1,
      gossiper: { digestsPerMessageMax: 4, deltaBytesPerMessageMax: budget },
      states: (i) => ({ blob: bigValue(i) }),
    });
    const rounds = cluster.roundsToConverge(80);
    expect(rounds).toBeLessThan(80);
    expect(cluster.deltaBytesMaxSeen).toBeLessThanOrEqual(budget);
    const truth = ownStates(cluster);
    for (const node of cluster.nodes) {
      for (const other of cluster.nodes)
        expect(viewOf(node.gossiper, other.id)).toEqual(truth.get(other.id));
    }
  });
});

describe("Gossiper fairness", () => {
  it("never starves a member behind others whose large states keep changing", () => {
    const budget = 8_000; // two 3,000-character states per message
    const observer = gossiperFor(0, 1, { seeds: [addressOf(1)], deltaBytesPerMessageMax: budget });
    const holder = gossiperFor(1, 2, { deltaBytesPerMessageMax: budget });
    const blob = (version: number) => String(version % 10).repeat(3000);
    holder.receive(
      ack2("feeder", [delta("z-static", 5, [0, 1], [["blob", blob(1), 1]])]),
      0,
      always,
    );
    let reachedInRound = Number.POSITIVE_INFINITY;
    for (let round = 1; round <= 12 && reachedInRound === Number.POSITIVE_INFINITY; round++) {
      // Four members that sort first publish a new large state every round.
      const churn = ["c0", "c1", "c2", "c3"].map((id) =>
        delta(id, 5, [0, round], [["blob", blob(round), round]]),
      );
      holder.receive(ack2("feeder", churn), 0, always);
      let inFlight = observer.tick(0, always);
      let turn = holder;
      while (inFlight.length > 0) {
        const message = overTheWire((inFlight[0] as GossipOutbound).message);
        if (message.kind !== "gossip-syn")
          expect(encodePeerBody(message).length).toBeLessThan(budget * 2);
        inFlight = turn.receive(message, 0, always);
        turn = turn === holder ? observer : holder;
      }
      if (observer.endpoint("z-static") !== undefined) reachedInRound = round;
    }
    expect(reachedInRound).toBeLessThanOrEqual(4);
  });
});

describe("Gossiper merge", () => {
  const self = idOf(0);
  const peer = "peer";

  it("takes newer versions, ignores older ones, and reports joined then updated", () => {
    const g = gossiperFor(0, 1);
    g.receive(
      ack2(peer, [
        delta(
          "c",
          5,
          [0, 2],
          [
            ["status", "joining", 1],
            ["tokens", "1", 2],
          ],
        ),
      ]),
      0,
      always,
    );
    g.receive(ack2(peer, [delta("c", 5, [0, 2], [["status", "other", 1]])]), 0, always);
    g.receive(ack2(peer, [delta("c", 5, [2, 3], [["status", "normal", 3]])]), 0, always);
    g.receive(ack2(peer, [delta("c", 5, [1, 2], [["status", "stale", 2]])]), 0, always);
    expect(g.endpoint("c")?.appStates.get("status")).toMatchObject({ value: "normal", version: 3 });
    expect(g.endpoint("c")?.maxVersion).toBe(3);
    expect(g.takeChanges()).toEqual([
      { kind: "joined", id: "c" },
      { kind: "updated", id: "c" },
    ]);
  });

  it("replaces everything on a new generation, emits restarted, and then ignores the old generation", () => {
    const g = gossiperFor(0, 1);
    g.receive(
      ack2(peer, [
        delta(
          "c",
          5,
          [0, 2],
          [
            ["status", "normal", 1],
            ["tokens", "1", 2],
          ],
        ),
      ]),
      0,
      always,
    );
    const before = g.summary();
    g.receive(ack2(peer, [delta("c", 9, [0, 1], [["status", "joining", 1]])]), 0, always);
    g.receive(ack2(peer, [delta("c", 5, [2, 4], [["tokens", "2", 4]])]), 0, always);
    const c = g.endpoint("c");
    expect(c?.generation).toBe(9);
    expect([...(c?.appStates.keys() ?? [])]).toEqual(["status"]);
    expect(c?.maxVersion).toBe(1);
    expect(g.summary()).not.toBe(before);
    expect(g.summary()).toBe(recomputedSummary(g));
    expect(g.takeChanges()).toEqual([
      { kind: "joined", id: "c" },
      { kind: "restarted", id: "c", generation: 9 },
    ]);
  });

  it("does not start or restart a member from a partial state", () => {
    const g = gossiperFor(0, 1);
    g.receive(ack2(peer, [delta("c", 5, [3, 4], [["status", "normal", 4]])]), 0, always);
    expect(g.endpoint("c")).toBeUndefined();
    g.receive(ack2(peer, [delta("c", 5, [0, 1], [["status", "joining", 1]])]), 0, always);
    g.receive(ack2(peer, [delta("c", 6, [2, 3], [["status", "normal", 3]])]), 0, always);
    expect(g.endpoint("c")?.generation).toBe(5);
    expect(g.stats.deltasIgnored).toBe(2);
  });

  it("never takes states about itself from others", () => {
    const g = gossiperFor(0, 1);
    g.setLocal("status", "normal");
    const summary = g.summary();
    g.receive(
      ack2(peer, [delta(self, GENERATION_BASE + 99, [0, 7], [["status", "left", 7]])]),
      0,
      always,
    );
    g.receive(
      ack2(peer, [delta(self, GENERATION_BASE, [0, 7], [["status", "left", 7]])]),
      0,
      always,
    );
    expect(g.endpoint(self)?.appStates.get("status")?.value).toBe("normal");
    expect(g.endpoint(self)?.generation).toBe(GENERATION_BASE);
    expect(g.summary()).toBe(summary);
    expect(g.stats.deltasIgnored).toBe(2);
  });

  it("ignores messages from itself", () => {
    const g = gossiperFor(0, 1);
    const out = g.receive(
      overTheWire({
        kind: "gossip-syn",
        from: self,
        fromAddress: addressOf(0),
        summary: "0123456789abcdef",
      }),
      0,
      always,
    );
    expect(out).toEqual([]);
    expect(g.stats.messagesIgnored).toBe(1);
  });

  it("refuses members beyond membersMax and counts them", () => {
    const g = gossiperFor(0, 1, { membersMax: 3 });
    const deltas = ["b", "c", "d", "e"].map((id) =>
      delta(id, 5, [0, 1], [["status", "normal", 1]]),
    );
    g.receive(ack2(peer, deltas), 0, always);
    expect(g.knownIds()).toEqual(["b", "c", self]);
    expect(g.stats.membersRefused).toBe(2);
  });

  it("keeps its incremental summary equal to one recomputed over all members, whatever happens (fast-check seed 99)", () => {
    const member = fc.constantFrom("b", "c", "d");
    const key = fc.constantFrom("status", "tokens", "load");
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant("local" as const),
        key,
        value: fc.constantFrom("x", "y", "z"),
      }),
      fc.record({ kind: fc.constant("forget" as const), id: member }),
      fc.record({
        kind: fc.constant("delta" as const),
        id: fc.oneof(member, fc.constant(self)),
        generation: fc.integer({ min: 5, max: 7 }),
        fromVersion: fc.nat({ max: 4 }),
        span: fc.nat({ max: 3 }),
        keys: fc.uniqueArray(key, { maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
        const g = gossiperFor(0, 1);
        for (const op of operations) {
          if (op.kind === "local") g.setLocal(op.key, op.value);
          else if (op.kind === "forget") g.forget(op.id);
          else {
            const states = op.keys.map((k, i): [string, string, number] => [
              k,
              `${k}${op.fromVersion + i + 1}`,
              op.fromVersion + i + 1,
            ]);
            const through = op.fromVersion + op.span;
            g.receive(
              ack2(peer, [delta(op.id, op.generation, [op.fromVersion, through], states)]),
              0,
              always,
            );
          }
          expect(g.summary()).toBe(recomputedSummary(g));
        }
      }),
      { seed: 99, numRuns: 200 },
    );
  });

  it("forgets a member: gone from the view and the summary, and reported", () => {
    const g = gossiperFor(0, 1);
    g.receive(ack2(peer, [delta("c", 5, [0, 1], [["status", "left", 1]])]), 0, always);
    g.takeChanges();
    expect(g.forget("c")).toBe(true);
    expect(g.forget("c")).toBe(false);
    expect(g.knownIds()).toEqual([self]);
    expect(g.summary()).toBe(recomputedSummary(g));
    expect(g.takeChanges()).toEqual([{ kind: "forgotten", id: "c" }]);
    expect(() => g.forget(self)).toThrow();
  });
});

describe("Gossiper rumors", () => {
  function convergedCluster(size: number, seed: number): TestCluster {
    const cluster = new TestCluster({ size, seed, seedCount: 2 });
    expect(cluster.roundsToConverge(30)).toBeLessThan(30);
    return cluster;
  }

  it("a cluster starting cold converges by exchange alone: first states are not rumored", () => {
    const cluster = convergedCluster(12, 21);
    expect(cluster.sentByKind.get("gossip-rumor")).toBeUndefined();
  });

  it("pushes a local urgent change to rumorFanout live peers at the next tick, and a non-urgent one not at all", () => {
    const cluster = convergedCluster(8, 22);
    const owner = cluster.nodes[3] as TestNode;
    owner.gossiper.setLocal("load", "1,1");
    expect(
      owner.gossiper.tick(0, cluster.isLive).filter((o) => o.message.kind === "gossip-rumor"),
    ).toEqual([]);
    owner.gossiper.setLocal("status", "normal");
    const rumors = owner.gossiper
      .tick(0, cluster.isLive)
      .filter((o) => o.message.kind === "gossip-rumor");
    expect(rumors).toHaveLength(3);
    expect(new Set(rumors.map((r) => r.to)).size).toBe(3);
    for (const rumor of rumors) {
      expect(rumor.to).not.toBe(owner.id);
      const message = rumor.message;
      expect(
        message.kind === "gossip-rumor" &&
          message.deltas.map((d) => [d.id, d.states.map((s) => s.key)]),
      ).toEqual([[owner.id, ["status"]]]);
    }
  });

  it("forwards a newer urgent value once, to others than the sender, and never the same version again", () => {
    const cluster = convergedCluster(8, 23);
    const owner = cluster.nodes[3] as TestNode;
    owner.gossiper.setLocal("status", "normal");
    const rumor = owner.gossiper
      .tick(0, cluster.isLive)
      .find((o) => o.message.kind === "gossip-rumor") as GossipOutbound;
    const receiver = cluster.nodes.find((n) => n.id === rumor.to) as TestNode;
    const message = overTheWire(rumor.message);

    const forwards = receiver.gossiper.receive(message, 0, cluster.isLive);
    expect(forwards).toHaveLength(3);
    expect(
      forwards.every(
        (o) => o.message.kind === "gossip-rumor" && o.to !== owner.id && o.to !== receiver.id,
      ),
    ).toBe(true);
    expect(receiver.gossiper.endpoint(owner.id)?.appStates.get("status")?.value).toBe("normal");
    expect(receiver.gossiper.endpoint(owner.id)?.maxVersion).toBe(
      owner.gossiper.endpoint(owner.id)?.maxVersion,
    );

    expect(receiver.gossiper.receive(message, 0, cluster.isLive)).toEqual([]);
    const again = receiver.gossiper.tick(0, cluster.isLive);
    expect(again.filter((o) => o.message.kind === "gossip-rumor")).toEqual([]);
  });

  it("spreads an urgent change to most nodes by rumor alone, and to all within two rounds", () => {
    const cluster = convergedCluster(50, 24);
    const sentBefore = cluster.sent;
    const owner = cluster.nodes[17] as TestNode;
    owner.gossiper.setLocal("votes", "[convicted node-003]");
    const rumors = owner.gossiper
      .tick(0, cluster.isLive)
      .filter((o) => o.message.kind === "gossip-rumor");
    cluster.deliver(rumors);
    const holders = cluster.nodes.filter(
      (n) =>
        n.gossiper.endpoint(owner.id)?.appStates.get("votes")?.value === "[convicted node-003]",
    );
    // Infect-and-die with fanout 3 leaves about e^-3 ≈ 5% untold; this seed leaves at most a few.
    expect(holders.length).toBeGreaterThanOrEqual(45);
    // Each node forwards once: at most fanout messages per node.
    expect(cluster.sent - sentBefore).toBeLessThanOrEqual(50 * 3);
    cluster.round();
    cluster.round();
    expect(cluster.converged()).toBe(true);
  });

  it("applies a rumor that skips versions at once, and lets the next exchange fill the gap", () => {
    const cluster = convergedCluster(4, 25);
    const [owner, listener] = cluster.nodes as [TestNode, TestNode];
    listener.up = false;
    owner.gossiper.setLocal("load", "5,5");
    owner.gossiper.setLocal("status", "normal");
    // Catch the owner's rumor to the listener by hand, with the listener still missing "load".
    const versionBefore = listener.gossiper.endpoint(owner.id)?.maxVersion ?? 0;
    // With four nodes and a fanout of three, every other node is a target.
    const rumor = owner.gossiper
      .tick(0, always)
      .find((o) => o.message.kind === "gossip-rumor" && o.to === listener.id);
    expect(rumor).toBeDefined();
    listener.gossiper.receive(overTheWire((rumor as GossipOutbound).message), 0, always);
    const seen = listener.gossiper.endpoint(owner.id);
    expect(seen?.appStates.get("status")?.value).toBe("normal");
    expect(seen?.appStates.has("load") && seen.appStates.get("load")?.value === "5,5").toBe(false);
    expect(seen?.maxVersion).toBe(versionBefore);
    listener.up = true;
    expect(cluster.roundsToConverge(10)).toBeLessThan(10);
    expect(listener.gossiper.endpoint(owner.id)?.appStates.get("load")?.value).toBe("5,5");
  });
});

describe("Gossiper cluster", () => {
  it("50 gossipers (seed 42) converge to identical states within 12 rounds", () => {
    const cluster = new TestCluster({ size: 50, seed: 42, seedCount: 2 });
    const rounds = cluster.roundsToConverge(12);
    expect(rounds).toBeLessThanOrEqual(12);
    const truth = ownStates(cluster);
    for (const node of cluster.nodes) {
      expect(node.gossiper.summary()).toBe(recomputedSummary(node.gossiper));
      for (const other of cluster.nodes)
        expect(viewOf(node.gossiper, other.id)).toEqual(truth.get(other.id));
    }
  });

  it("a restarted member's new generation replaces its old state everywhere (seed 43)", () => {
    const cluster = new TestCluster({ size: 20, seed: 43, seedCount: 2 });
    expect(cluster.roundsToConverge(15)).toBeLessThan(15);
    for (const node of cluster.nodes) node.gossiper.takeChanges();
    const restarted = cluster.nodes[9] as TestNode;
    restarted.gossiper.setLocal("load", "7,7"); // a key the new generation will not have
    cluster.round();
    restarted.gossiper = cluster.start(9, 1);
    expect(cluster.roundsToConverge(15)).toBeLessThan(15);
    for (const node of cluster.nodes) {
      if (node === restarted) continue;
      const seen = node.gossiper.endpoint(restarted.id);
      expect(seen?.generation).toBe(GENERATION_BASE + 9 + 1_000_000);
      expect(seen?.appStates.has("load")).toBe(false);
      expect(node.gossiper.takeChanges()).toContainEqual({
        kind: "restarted",
        id: restarted.id,
        generation: GENERATION_BASE + 9 + 1_000_000,
      });
      expect(node.gossiper.summary()).toBe(recomputedSummary(node.gossiper));
    }
  });

  it("a member that is down is still tried now and then, and catches up when it is back (seed 44)", () => {
    const cluster = new TestCluster({ size: 10, seed: 44, seedCount: 1 });
    expect(cluster.roundsToConverge(15)).toBeLessThan(15);
    const sleeper = cluster.nodes[6] as TestNode;
    sleeper.up = false;
    (cluster.nodes[2] as TestNode).gossiper.setLocal("load", "3,3");
    for (let i = 0; i < 3; i++) cluster.round();
    expect(sleeper.gossiper.endpoint(idOf(2))?.appStates.has("load")).toBe(false);
    sleeper.up = true;
    expect(cluster.roundsToConverge(10)).toBeLessThan(10);
    expect(sleeper.gossiper.endpoint(idOf(2))?.appStates.get("load")?.value).toBe("3,3");
  });
});
