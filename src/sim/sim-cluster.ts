// sim/sim-cluster.ts — many real membership engines in one process, under virtual time.
//
// Theory of operation. This is TigerBeetle's VOPR idea applied to Grapevine's membership core: the
// cluster runs the same ClusterEngine the node runs (cluster/cluster-view.ts, unchanged), driven by
// a virtual clock (virtual-clock.ts) and a seeded, faulty network (sim-network.ts), so a run is a
// pure function of its seed. A failing run names its seed (`seed=<n>` in every error this class
// lets out), and the same seed fails the same way.
//
// Each node is what the real shell would be: an id (`n0001`…), an address (`sim-n0001:7000`),
// tokens allocated once from its own seed (kept across restarts, as node/identity.ts keeps them on
// disk), a generation equal to its virtual start time (a restart takes max(now, previous + 1), so
// it always grows), the first `seedCount` nodes' addresses as seeds, and a timer that calls tick()
// every engine.tickIntervalMs with a random initial phase, so nodes do not tick in lockstep. Every
// message an engine returns goes through the network; every event it emits is recorded
// (event-recorder.ts). Whether the nodes' views agree is view-check.ts.
//
// Faults: crash (the engine and its state are gone; messages to it are lost), restart (a fresh
// engine with a new generation, same id and tokens), pause/resume (no ticks and messages held while
// paused; on resume the engine sees the clock jump at its next tick, which runs at once),
// partitions, one-way link cuts and message loss (delegated to the network).
//
// Random streams are named, not drawn in sequence (seeds.ts): the network's stream and each node's
// streams (tokens, tick phase, one engine stream per life) are children of the run seed named by
// what they serve, so adding a node or a restart leaves every other stream as it was.

import { assert } from "../core/assert.js";
import type { Cancel } from "../core/clock.js";
import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import { createClusterEngine } from "../cluster/cluster-view.js";
import type { ClusterEngine, ClusterEngineFactory, ClusterEvent } from "../cluster/engine.js";
import type { PeerMessage } from "../cluster/peer-messages.js";
import { randomTokens } from "../ring/tokens.js";
import type { Token } from "../ring/partitioner.js";
import { EventRecorder, type EventListener, type RecordedEvent } from "./event-recorder.js";
import { childSeed } from "./seeds.js";
import { SimNetwork, type NodeTraffic, type SimNetworkOptions } from "./sim-network.js";
import { viewDisagreement, type ViewCheckOptions } from "./view-check.js";
import { VirtualClock } from "./virtual-clock.js";

export type { EventListener, RecordedEvent } from "./event-recorder.js";
export type { ViewCheckOptions } from "./view-check.js";

/** The engine settings every simulated node shares (the node's config, SPEC §1). */
export interface SimEngineSettings {
  readonly gossipIntervalMs: number;
  readonly phiThreshold: number;
  readonly replicationFactor: number;
  readonly vnodes: number;
  /**
   * Nodes start in this ring status; status transitions are the topology layer's and out of scope
   * here.
   */
  readonly status: MemberStatus;
}

export interface SimClusterOptions {
  /** The run: the same seed replays the same run. */
  readonly seed: number;
  /** Nodes created (stopped) at construction; addNode() makes more. */
  readonly nodeCount: number;
  /** The first `seedCount` nodes are every node's seeds. */
  readonly seedCount?: number;
  readonly engine?: Partial<SimEngineSettings>;
  readonly network?: Partial<Omit<SimNetworkOptions, "seed">>;
  /** The engine under test; the real one unless a test brings a fake. */
  readonly engineFactory?: ClusterEngineFactory;
  /**
   * Virtual time at creation, ms since the epoch; generations are start times, so they look real.
   */
  readonly startMs?: number;
  /** Events kept in the log; older ones are dropped (and counted) past it. */
  readonly eventLogMax?: number;
}

export const SIM_CLUSTER_DEFAULTS = {
  seedCount: 3,
  /** SPEC §1's defaults. */
  engine: {
    gossipIntervalMs: 1_000,
    phiThreshold: 8,
    replicationFactor: 3,
    vnodes: 16,
    status: "normal",
  } satisfies SimEngineSettings,
  /**
   * 2024-01-01T00:00:00Z: a generation as large as a real one, so number encoding is tested as in
   * production.
   */
  startMs: 1_704_067_200_000,
  /**
   * A thousand nodes joining emit about a million member-joined events; keep the newest 200,000.
   */
  eventLogMax: 200_000,
  /** The port every simulated node listens on (the address differs by host name). */
  port: 7000,
} as const;

export type SimNodeState = "stopped" | "up" | "paused" | "crashed";

/** One simulated node as the cluster sees it from outside (the truth, not any engine's view). */
export interface SimNodeInfo {
  readonly id: NodeId;
  readonly address: Address;
  readonly tokens: readonly Token[];
  readonly state: SimNodeState;
  /** The generation of the current or last life; 0 before the first start. */
  readonly generation: number;
  /** Starts so far (first start and restarts). */
  readonly lives: number;
}

export interface WaitOptions {
  /** Give up after this much virtual time, ms. */
  readonly withinMs: number;
  /** Check the condition this often, ms of virtual time. */
  readonly checkEveryMs?: number;
}

interface SimNode {
  readonly id: NodeId;
  readonly address: Address;
  readonly seed: number;
  readonly tokens: readonly Token[];
  readonly phaseRandom: Random;
  state: SimNodeState;
  engine: ClusterEngine | null;
  generation: number;
  lives: number;
  cancelTick: Cancel | null;
}

const WAIT_CHECK_EVERY_MS_DEFAULT = 500;

export class SimCluster {
  readonly seed: number;
  readonly clock: VirtualClock;
  readonly network: SimNetwork;
  private readonly settings: SimEngineSettings;
  private readonly seedCount: number;
  private readonly engineFactory: ClusterEngineFactory;
  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly recorder: EventRecorder;

  constructor(options: SimClusterOptions) {
    assert(Number.isSafeInteger(options.seed), "seed must be an integer");
    assert(
      Number.isSafeInteger(options.nodeCount) && options.nodeCount >= 0,
      "nodeCount must be an integer ≥ 0",
    );
    this.seed = options.seed;
    this.settings = { ...SIM_CLUSTER_DEFAULTS.engine, ...options.engine };
    this.seedCount = options.seedCount ?? SIM_CLUSTER_DEFAULTS.seedCount;
    assert(this.seedCount >= 1, "a cluster needs at least one seed");
    this.engineFactory = options.engineFactory ?? createClusterEngine;
    this.recorder = new EventRecorder(options.eventLogMax ?? SIM_CLUSTER_DEFAULTS.eventLogMax);
    this.clock = new VirtualClock({ startMs: options.startMs ?? SIM_CLUSTER_DEFAULTS.startMs });
    this.network = new SimNetwork(
      { ...options.network, seed: childSeed(options.seed, "network") },
      this.clock,
    );
    for (let i = 0; i < options.nodeCount; i++) this.createNode();
  }

  // ---- life cycle ------------------------------------------------------------------------------

  /** Starts every stopped node: all now, or one every `staggerMs` in id order (seeds first). */
  startAll(options: { readonly staggerMs?: number } = {}): void {
    const staggerMs = options.staggerMs ?? 0;
    assert(staggerMs >= 0, "staggerMs must be ≥ 0");
    let offsetMs = 0;
    for (const node of this.nodes) {
      if (node.state !== "stopped") continue;
      if (offsetMs === 0) this.startNode(node);
      else {
        this.clock.schedule(offsetMs, () => {
          if (node.state === "stopped") this.startNode(node);
        });
      }
      offsetMs += staggerMs;
    }
  }

  start(id: NodeId): void {
    const node = this.nodeOf(id);
    assert(node.state === "stopped", () => `${id} is ${node.state}, not stopped; use restart()`);
    this.startNode(node);
  }

  /** Creates and starts one more node; returns its id. */
  addNode(): NodeId {
    const node = this.createNode();
    this.startNode(node);
    return node.id;
  }

  /** The process dies: its engine and all its state are gone, messages to it are lost. */
  crash(id: NodeId): void {
    const node = this.nodeOf(id);
    assert(
      node.state === "up" || node.state === "paused",
      () => `${id} is ${node.state} and cannot crash`,
    );
    node.cancelTick?.();
    node.cancelTick = null;
    node.engine = null;
    node.state = "crashed";
    this.network.setState(id, "crashed");
  }

  /**
   * Starts a crashed node again (crashing it first if it runs): same id and tokens, new generation,
   * fresh engine.
   */
  restart(id: NodeId): void {
    const node = this.nodeOf(id);
    if (node.state === "up" || node.state === "paused") this.crash(id);
    assert(node.state === "crashed", () => `${id} is ${node.state}; start() it first`);
    this.startNode(node);
  }

  /** The process stops (SIGSTOP, a long GC pause): no ticks, incoming messages held. */
  pause(id: NodeId): void {
    const node = this.nodeOf(id);
    assert(node.state === "up", () => `${id} is ${node.state} and cannot pause`);
    node.cancelTick?.();
    node.cancelTick = null;
    node.state = "paused";
    this.network.setState(id, "paused");
  }

  /**
   * The process continues: its overdue tick runs at once (seeing the jump), then held messages
   * arrive.
   */
  resume(id: NodeId): void {
    const node = this.nodeOf(id);
    assert(node.state === "paused", () => `${id} is ${node.state}, not paused`);
    node.state = "up";
    // The tick is scheduled before the network releases the held messages, so it runs first: an
    // event loop runs its overdue timers before it reads the sockets.
    this.scheduleTick(node, 0);
    this.network.setState(id, "up");
  }

  partition(groups: readonly (readonly NodeId[])[]): void {
    this.network.partition(groups);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.network.cutLink(from, to);
  }

  heal(): void {
    this.network.heal();
  }

  setLoss(probability: number): void {
    this.network.setLoss(probability);
  }

  // ---- running ---------------------------------------------------------------------------------

  nowMs(): number {
    return this.clock.nowMs();
  }

  runFor(durationMs: number): void {
    this.guard(() => this.clock.runFor(durationMs));
  }

  runUntil(untilMs: number): void {
    this.guard(() => this.clock.runUntil(untilMs));
  }

  /**
   * Runs until `condition` holds, checking every `checkEveryMs` of virtual time; returns the
   * virtual time it took, or null when it did not hold within `withinMs`.
   */
  waitFor(condition: () => boolean, options: WaitOptions): number | null {
    const checkEveryMs = options.checkEveryMs ?? WAIT_CHECK_EVERY_MS_DEFAULT;
    assert(
      checkEveryMs > 0 && options.withinMs >= 0,
      "waitFor needs checkEveryMs > 0 and withinMs ≥ 0",
    );
    const startMs = this.clock.nowMs();
    const deadlineMs = startMs + options.withinMs;
    for (;;) {
      if (this.guard(condition)) return this.clock.nowMs() - startMs;
      const nowMs = this.clock.nowMs();
      if (nowMs >= deadlineMs) return null;
      this.runUntil(Math.min(deadlineMs, nowMs + checkEveryMs));
    }
  }

  // ---- queries ---------------------------------------------------------------------------------

  ids(): NodeId[] {
    return this.nodes.map((node) => node.id);
  }

  /** Nodes that are up (running and reachable); paused nodes are not. */
  liveIds(): NodeId[] {
    return this.nodes.filter((node) => node.state === "up").map((node) => node.id);
  }

  info(id: NodeId): SimNodeInfo {
    const node = this.nodeOf(id);
    return {
      id: node.id,
      address: node.address,
      tokens: node.tokens,
      state: node.state,
      generation: node.generation,
      lives: node.lives,
    };
  }

  /** The engine of a running (up or paused) node. */
  engine(id: NodeId): ClusterEngine {
    const node = this.nodeOf(id);
    assert(node.engine !== null, () => `${id} is ${node.state} and has no engine`);
    return node.engine;
  }

  traffic(id: NodeId): Readonly<NodeTraffic> {
    return this.network.traffic(id);
  }

  /**
   * The observers (default: every up node but the subject) whose engine considers `subject` live.
   */
  observersSeeingLive(subject: NodeId, observers: readonly NodeId[] = this.liveIds()): NodeId[] {
    return observers.filter(
      (observer) => observer !== subject && this.engine(observer).isLive(subject),
    );
  }

  /**
   * The first way the observers' views differ from each other or from the truth, or null when they
   * all agree (view-check.ts): the expected liveness, the same member set, each member's current
   * generation, one status per member (the expected one when given), and the same ring. It stops at
   * the first difference, cheapest checks first, so calling it often while a cluster converges
   * costs little.
   */
  disagreement(options: ViewCheckOptions = {}): string | null {
    return viewDisagreement(
      {
        liveIds: () => this.liveIds(),
        startedIds: () => this.nodes.filter((node) => node.lives > 0).map((node) => node.id),
        generation: (id) => this.nodeOf(id).generation,
        engine: (id) => this.engine(id),
      },
      options,
    );
  }

  /** When each observer first emitted member-down for `subject` (virtual ms), by observer. */
  downTimes(subject: NodeId): ReadonlyMap<NodeId, number> {
    return this.recorder.downTimes(subject);
  }

  /** Forgets the first-conviction times (all, or one subject's), to measure a later failure. */
  clearDownTimes(subject?: NodeId): void {
    this.recorder.clearDownTimes(subject);
  }

  /** Events of one kind emitted so far, by every observer. */
  eventCount(kind: ClusterEvent["kind"]): number {
    return this.recorder.count(kind);
  }

  /** The newest events, oldest first (at most eventLogMax). */
  events(): RecordedEvent[] {
    return this.recorder.events();
  }

  /** Events that fell out of the bounded log. */
  get eventsDropped(): number {
    return this.recorder.dropped;
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe. */
  onEvent(listener: EventListener): () => void {
    return this.recorder.onEvent(listener);
  }

  // ---- internals -------------------------------------------------------------------------------

  private createNode(): SimNode {
    const index = this.nodes.length + 1;
    const id = `n${String(index).padStart(4, "0")}`;
    // Named by index, so a node's streams do not depend on how many nodes exist.
    const seed = childSeed(this.seed, index);
    const node: SimNode = {
      id,
      address: `sim-${id}:${SIM_CLUSTER_DEFAULTS.port}`,
      seed,
      tokens: randomTokens(createRandom(childSeed(seed, "tokens")), this.settings.vnodes),
      phaseRandom: createRandom(childSeed(seed, "phase")),
      state: "stopped",
      engine: null,
      generation: 0,
      lives: 0,
      cancelTick: null,
    };
    this.nodes.push(node);
    this.byId.set(id, node);
    return node;
  }

  private seedAddresses(): Address[] {
    return this.nodes.slice(0, this.seedCount).map((node) => node.address);
  }

  private startNode(node: SimNode): void {
    const nowMs = this.clock.nowMs();
    // Like node/identity.ts: a generation never repeats, even when two starts share a millisecond.
    node.generation = Math.max(Math.floor(nowMs), node.generation + 1);
    node.lives += 1;
    const engine = this.engineFactory(
      {
        id: node.id,
        address: node.address,
        generation: node.generation,
        tokens: node.tokens,
        status: this.settings.status,
        seeds: this.seedAddresses(),
        replicationFactor: this.settings.replicationFactor,
        gossipIntervalMs: this.settings.gossipIntervalMs,
        phiThreshold: this.settings.phiThreshold,
      },
      createRandom(childSeed(node.seed, `engine:${node.lives}`)),
    );
    assert(engine.tickIntervalMs > 0, "an engine's tickIntervalMs must be positive");
    node.engine = engine;
    node.state = "up";
    this.network.attach({
      id: node.id,
      address: node.address,
      deliver: (message: PeerMessage, atMs: number) => this.deliver(node, engine, message, atMs),
    });
    this.drainEvents(node, engine);
    this.scheduleTick(node, node.phaseRandom.next() * engine.tickIntervalMs);
  }

  private scheduleTick(node: SimNode, delayMs: number): void {
    const engine = node.engine;
    assert(engine !== null, "only a running node ticks");
    node.cancelTick = this.clock.schedule(delayMs, () => {
      node.cancelTick = null;
      if (node.engine !== engine || node.state !== "up") return;
      const outbounds = engine.tick(this.clock.nowMs());
      this.network.send(node.id, outbounds);
      this.drainEvents(node, engine);
      this.scheduleTick(node, engine.tickIntervalMs);
    });
  }

  private deliver(node: SimNode, engine: ClusterEngine, message: PeerMessage, atMs: number): void {
    // The network delivers only to an up node's current life; anything else is a simulator bug.
    assert(
      node.engine === engine && node.state === "up",
      () => `${node.id} got a message while ${node.state}`,
    );
    const outbounds = engine.receive(message, atMs);
    this.network.send(node.id, outbounds);
    this.drainEvents(node, engine);
  }

  private drainEvents(node: SimNode, engine: ClusterEngine): void {
    const events = engine.takeEvents();
    if (events.length === 0) return;
    this.recorder.record(node.id, events, this.clock.nowMs());
  }

  private nodeOf(id: NodeId): SimNode {
    const node = this.byId.get(id);
    assert(node !== undefined, () => `no simulated node ${id}`);
    return node;
  }

  /**
   * Runs `body`; any error it throws leaves with the run's seed and virtual time, so it can be
   * replayed.
   */
  private guard<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      if (error instanceof Error && !error.message.startsWith("seed=")) {
        error.message = `seed=${this.seed} at virtual ${this.clock.nowMs()} ms: ${error.message}`;
      }
      throw error;
    }
  }
}
