import { describe, expect, it } from "vitest";
import type {
  ClusterEngine,
  ClusterEngineFactory,
  ClusterEngineOptions,
  MembershipEntry,
  ClusterEvent,
  ClusterStats,
  MemberView,
  Outbound,
} from "../../../src/cluster/engine.js";
import type { HeartbeatMessage, PeerMessage } from "../../../src/cluster/peer-messages.js";
import type { NodeId } from "../../../src/core/ids.js";
import type { Random } from "../../../src/core/random.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { SimCluster, type SimClusterOptions } from "../../../src/sim/sim-cluster.js";

const TICK_INTERVAL_MS = 100;

/**
 * A tiny engine that only exercises the shell: each tick it heartbeats its seeds, it remembers
 * every tick time and every message, and it emits whatever events a test queues for it.
 */
class FakeEngine implements ClusterEngine {
  readonly tickIntervalMs = TICK_INTERVAL_MS;
  readonly ticks: number[] = [];
  readonly received: { message: PeerMessage; atMs: number }[] = [];
  readonly queued: ClusterEvent[] = [];
  private sequence = 0;
  constructor(
    readonly options: ClusterEngineOptions,
    readonly random: Random,
  ) {}
  tick(nowMs: number): Outbound[] {
    this.ticks.push(nowMs);
    this.sequence += 1;
    return this.options.seeds
      .filter((seed) => seed !== this.options.address)
      .map((address) => ({ to: null, address, message: this.heartbeat() }));
  }
  receive(message: PeerMessage, nowMs: number): Outbound[] {
    this.received.push({ message, atMs: nowMs });
    return [];
  }
  takeEvents(): ClusterEvent[] {
    return this.queued.splice(0);
  }
  setLoad(): void {}
  setStatus(): void {}
  members(): MemberView[] {
    return [];
  }
  ring(): TokenMap {
    return TokenMap.empty;
  }
  ringFingerprint(): string {
    return "0:0";
  }
  membership(): MembershipEntry[] {
    return [];
  }
  isLive(): boolean {
    return true;
  }
  stats(): ClusterStats {
    return {
      gossipRounds: 0,
      messagesSent: 0,
      messagesReceived: this.received.length,
      messagesRefused: 0,
    };
  }
  private heartbeat(): HeartbeatMessage {
    const { id, generation } = this.options;
    return { kind: "heartbeat", from: id, generation, incarnation: 0, sequence: this.sequence };
  }
}

function fakeCluster(options: Partial<SimClusterOptions> = {}) {
  const engines = new Map<NodeId, FakeEngine[]>();
  const factory: ClusterEngineFactory = (engineOptions, random) => {
    const engine = new FakeEngine(engineOptions, random);
    engines.set(engineOptions.id, [...(engines.get(engineOptions.id) ?? []), engine]);
    return engine;
  };
  const cluster = new SimCluster({
    seed: 5,
    nodeCount: 4,
    seedCount: 1,
    engineFactory: factory,
    ...options,
  });
  const latest = (id: NodeId): FakeEngine => {
    const lives = engines.get(id);
    if (lives === undefined || lives.length === 0) throw new Error(`no engine for ${id}`);
    return lives[lives.length - 1] as FakeEngine;
  };
  return { cluster, engines, latest };
}

describe("SimCluster", () => {
  it("names nodes n0001… with addresses sim-n0001:7000 and gives everyone the first nodes as seeds", () => {
    const { cluster, latest } = fakeCluster({ seedCount: 2 });
    cluster.startAll();
    expect(cluster.ids()).toEqual(["n0001", "n0002", "n0003", "n0004"]);
    expect(cluster.info("n0003").address).toBe("sim-n0003:7000");
    expect(latest("n0004").options.seeds).toEqual(["sim-n0001:7000", "sim-n0002:7000"]);
    expect(latest("n0004").options.status).toBe("normal");
  });

  it("gives each node its virtual start time as generation and vnodes distinct tokens", () => {
    const { cluster, latest } = fakeCluster({ engine: { vnodes: 8 } });
    const startMs = cluster.nowMs();
    cluster.startAll({ staggerMs: 250 });
    cluster.runFor(1_000);
    expect(cluster.ids().map((id) => latest(id).options.generation)).toEqual([
      startMs,
      startMs + 250,
      startMs + 500,
      startMs + 750,
    ]);
    for (const id of cluster.ids()) expect(new Set(latest(id).options.tokens).size).toBe(8);
  });

  it("ticks each node every tickIntervalMs from a random phase inside the first interval", () => {
    const { cluster, latest } = fakeCluster();
    const startMs = cluster.nowMs();
    cluster.startAll();
    cluster.runFor(1_000);
    const phases = cluster.ids().map((id) => (latest(id).ticks[0] as number) - startMs);
    for (const phase of phases) {
      expect(phase).toBeGreaterThanOrEqual(0);
      expect(phase).toBeLessThan(TICK_INTERVAL_MS);
    }
    expect(new Set(phases).size).toBe(phases.length);
    for (const id of cluster.ids()) {
      const ticks = latest(id).ticks;
      expect(ticks.length).toBeGreaterThanOrEqual(9);
      for (let i = 1; i < ticks.length; i++)
        expect((ticks[i] as number) - (ticks[i - 1] as number)).toBeCloseTo(TICK_INTERVAL_MS, 9);
    }
  });

  it("routes what engines return through the network to the addressed node", () => {
    const { cluster, latest } = fakeCluster();
    cluster.startAll();
    cluster.runFor(1_000);
    const senders = new Set(
      latest("n0001").received.map(({ message }) => (message as HeartbeatMessage).from),
    );
    expect([...senders].sort()).toEqual(["n0002", "n0003", "n0004"]);
    expect(cluster.traffic("n0002").messagesSent).toBe(latest("n0002").ticks.length);
  });

  it("replays the same tokens and tick phases for the same seed, and adding a node changes neither", () => {
    const first = fakeCluster({ seed: 77 });
    first.cluster.startAll();
    first.cluster.runFor(300);
    const second = fakeCluster({ seed: 77, nodeCount: 3 });
    second.cluster.startAll();
    second.cluster.addNode();
    second.cluster.runFor(300);
    for (const id of ["n0001", "n0002", "n0003"]) {
      expect(second.latest(id).options.tokens).toEqual(first.latest(id).options.tokens);
      expect(second.latest(id).ticks).toEqual(first.latest(id).ticks);
    }
    const other = fakeCluster({ seed: 78 });
    expect(other.cluster.info("n0001").tokens).not.toEqual(first.cluster.info("n0001").tokens);
  });

  it("stops ticking and holds messages while paused; on resume the engine ticks at once and sees the jump", () => {
    const { cluster, latest } = fakeCluster();
    cluster.startAll();
    cluster.runFor(500);
    const seed = latest("n0001");
    cluster.pause("n0001");
    const pausedAt = cluster.nowMs();
    const ticksBefore = seed.ticks.length;
    const receivedBefore = seed.received.length;
    cluster.runFor(1_000);
    expect(seed.ticks.length).toBe(ticksBefore);
    expect(seed.received.length).toBe(receivedBefore);
    expect(cluster.liveIds()).toEqual(["n0002", "n0003", "n0004"]);
    cluster.resume("n0001");
    cluster.runFor(0);
    expect(seed.ticks[ticksBefore]).toBe(pausedAt + 1_000);
    // Everything sent while paused was younger than the hold limit and arrives on resume, after the
    // tick.
    expect(seed.received.length).toBeGreaterThan(receivedBefore + 20);
    expect(seed.received.slice(receivedBefore).every(({ atMs }) => atMs === pausedAt + 1_000)).toBe(
      true,
    );
    expect(latest("n0001")).toBe(seed);
  });

  it("restarts a crashed node with a fresh engine, the same tokens and a larger generation", () => {
    const { cluster, engines, latest } = fakeCluster();
    cluster.startAll();
    cluster.runFor(500);
    const before = latest("n0002");
    cluster.crash("n0002");
    expect(cluster.info("n0002").state).toBe("crashed");
    expect(() => cluster.engine("n0002")).toThrow(/crashed/);
    cluster.runFor(500);
    cluster.restart("n0002");
    const after = latest("n0002");
    expect(after).not.toBe(before);
    expect(engines.get("n0002")).toHaveLength(2);
    expect(after.options.tokens).toEqual(before.options.tokens);
    expect(after.options.generation).toBe(cluster.nowMs());
    expect(after.options.generation).toBeGreaterThan(before.options.generation);
    expect(cluster.info("n0002")).toMatchObject({
      state: "up",
      lives: 2,
      generation: after.options.generation,
    });
    const ticksOfOldLife = before.ticks.length;
    cluster.runFor(500);
    expect(before.ticks.length).toBe(ticksOfOldLife);
    expect(after.ticks.length).toBeGreaterThan(0);
  });

  it("never repeats a generation, even for a restart within the same millisecond", () => {
    const { cluster } = fakeCluster();
    cluster.startAll();
    const first = cluster.info("n0003").generation;
    cluster.restart("n0003");
    cluster.restart("n0003");
    expect(cluster.info("n0003").generation).toBe(first + 2);
  });

  it("records events with time and observer, counts them, indexes first convictions, and tells listeners", () => {
    const { cluster, latest } = fakeCluster({ eventLogMax: 3 });
    cluster.startAll();
    const heard: string[] = [];
    cluster.onEvent(({ observer, event }) => heard.push(`${observer}:${event.kind}`));
    latest("n0001").queued.push(
      { kind: "member-down", id: "n0004" },
      { kind: "member-up", id: "n0004" },
    );
    cluster.runFor(TICK_INTERVAL_MS);
    const firstAt = cluster.downTimes("n0004").get("n0001");
    expect(firstAt).toBeGreaterThan(cluster.nowMs() - TICK_INTERVAL_MS);
    cluster.runFor(50);
    latest("n0001").queued.push({ kind: "member-down", id: "n0004" });
    latest("n0002").queued.push({ kind: "member-down", id: "n0004" }, { kind: "tokens-changed" });
    cluster.runFor(TICK_INTERVAL_MS);
    expect(cluster.downTimes("n0004").get("n0001")).toBe(firstAt);
    expect([...cluster.downTimes("n0004").keys()].sort()).toEqual(["n0001", "n0002"]);
    expect(cluster.eventCount("member-down")).toBe(3);
    expect(heard).toHaveLength(5);
    // The log keeps the newest three of the five.
    const log = cluster.events();
    expect(log).toHaveLength(3);
    expect(cluster.eventsDropped).toBe(2);
    expect(log.map((r) => r.event.kind)).toEqual(heard.slice(2).map((h) => h.split(":")[1]));
    expect(log[2]?.atMs).toBeGreaterThanOrEqual(log[0]?.atMs ?? Infinity);
    cluster.clearDownTimes("n0004");
    expect(cluster.downTimes("n0004").size).toBe(0);
  });

  it("waits for a condition in virtual time and says how long it took, or null past the deadline", () => {
    const { cluster, latest } = fakeCluster();
    cluster.startAll();
    const took = cluster.waitFor(() => latest("n0001").received.length >= 30, {
      withinMs: 5_000,
      checkEveryMs: 100,
    });
    expect(took).not.toBeNull();
    expect(took).toBeGreaterThan(0);
    expect(took! % 100).toBe(0);
    expect(cluster.waitFor(() => false, { withinMs: 1_000 })).toBeNull();
  });

  it("names the seed in any error a run lets out", () => {
    const { cluster, latest } = fakeCluster({ seed: 4242 });
    cluster.startAll();
    cluster.runFor(200);
    latest("n0003").tick = () => {
      throw new Error("engine blew up");
    };
    expect(() => cluster.runFor(500)).toThrow(
      /^seed=4242 at virtual \d+(\.\d+)? ms: engine blew up/,
    );
  });
});
