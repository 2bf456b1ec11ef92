// sim/sim-network.ts — the simulated network between simulated nodes.
//
// Theory of operation. Peer messages are datagrams (net/peer-protocol.ts): fire and forget, a lost
// one is repaired by the next round. The simulated network keeps that contract and adds the faults
// the protocols must survive, all decided by seeded chance and virtual time:
//
// - Every message is encoded with the wire codec at the sender and decoded and validated at the
//   receiver exactly as the real peer route does (net/codec.ts, cluster/peer-messages.ts), so a
//   schema or serialisation bug fails in the simulator, and no two engines ever share an object.
//   A message that fails validation is a bug in the sender: by default it throws (the run fails
//   loudly); in "count" mode it is refused and counted, as the real route answers 400. There is no
//   switch to skip the codec: measured, encoding, decoding and validating take ~12% of the CPU of a
//   1,000-node join and ~25% in steady state, too little to be worth hiding serialisation bugs.
// - Each message draws a loss and a delay from its sender's own random stream (a child of the
//   network seed named by the sender's id), always both, so changing the loss rate or adding a node
//   does not reshuffle the fate of every other node's messages.
// - Links can be cut one direction at a time, and the nodes split into partition groups; a message
//   is lost when its link is cut when it is sent or when it arrives.
// - A destination is up, paused or crashed. A message to a crashed node is lost, and so is one that
//   was sent to an earlier life of a node that has since restarted (its socket buffer died with
//   it). A message to a paused node (SIGSTOP, a long GC) is held, like data in the kernel's socket
//   buffer, and delivered when the node resumes if it is not older than `pausedHoldMsMax` (the
//   sender's request deadline plus buffering), else lost; at most `heldPerNodeMax` are held per
//   node and newer ones are lost past it.
// - A message to an address nobody listens on is lost (connection refused).
//
// Traffic is counted per node and per message kind (messages and encoded bytes), and every loss is
// counted by cause, for the cost benches.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import type { Outbound } from "../cluster/engine.js";
import {
  PeerMessageError,
  validatePeerMessage,
  type PeerMessage,
} from "../cluster/peer-messages.js";
import { decodePeerBody, encodePeerBody } from "../net/codec.js";
import { childSeed } from "./seeds.js";
import type { VirtualClock } from "./virtual-clock.js";

export type NodeState = "up" | "paused" | "crashed";

/**
 * One-way delay of a message. `uniform`: evenly in [minMs, maxMs]. `exponential`: a fixed base plus
 * an exponentially distributed jitter of the given mean, cut at maxMs (a LAN's long tail, bounded).
 */
export type DelayModel =
  | { readonly kind: "uniform"; readonly minMs: number; readonly maxMs: number }
  | {
      readonly kind: "exponential";
      readonly baseMs: number;
      readonly jitterMeanMs: number;
      readonly maxMs: number;
    };

export type RefusedPolicy = "throw" | "count";

export interface SimNetworkOptions {
  readonly seed: number;
  readonly delay: DelayModel;
  /** Chance that any one message is lost, 0..1; changeable at run time with setLoss. */
  readonly lossProbability: number;
  /** Held messages older than this when their paused receiver resumes are lost, ms. */
  readonly pausedHoldMsMax: number;
  /** Messages held for one paused node; newer ones are lost past it. */
  readonly heldPerNodeMax: number;
  readonly refusedPolicy: RefusedPolicy;
}

export const SIM_NETWORK_DEFAULTS: Omit<SimNetworkOptions, "seed"> = {
  // A LAN: a millisecond or two, with a tail to ten.
  delay: { kind: "exponential", baseMs: 0.5, jitterMeanMs: 1, maxMs: 10 },
  lossProbability: 0,
  // The peer client's request deadline (2 s by default) plus the time a kernel buffer would hold
  // it.
  pausedHoldMsMax: 2_000,
  // A paused node of a 1,000-node cluster receives about 10 heartbeats and a few gossip messages a
  // second; 10,000 holds far more than a hold window's worth.
  heldPerNodeMax: 10_000,
  refusedPolicy: "throw",
};

/** What the network needs of a node: where it listens and how to hand it a validated message. */
export interface SimEndpoint {
  readonly id: NodeId;
  readonly address: Address;
  deliver(message: PeerMessage, nowMs: number): void;
}

export interface KindTraffic {
  messages: number;
  bytes: number;
}

/** One node's traffic: what it sent (whether or not it arrived) and what it was handed. */
export interface NodeTraffic {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Sent, by message kind. */
  readonly sentByKind: Map<string, KindTraffic>;
}

export type LossCause = "loss" | "cut" | "down" | "unroutable" | "expired" | "overflow" | "refused";

export interface NetworkStats {
  sent: number;
  bytesSent: number;
  /** Sent by every node, by message kind. */
  readonly sentByKind: Map<string, KindTraffic>;
  delivered: number;
  /** Messages on the wire or held for a paused node. */
  inFlight: number;
  readonly lost: Record<LossCause, number>;
  /** The first validation failure seen in "count" mode, to say what was wrong. */
  firstRefusal: string | null;
}

interface NodeSlot {
  endpoint: SimEndpoint;
  state: NodeState;
  /** Bumped at every crash and re-attach: messages sent to an earlier life are lost. */
  life: number;
  held: HeldMessage[];
  readonly traffic: NodeTraffic;
}

interface HeldMessage {
  readonly from: NodeId;
  readonly sentAtMs: number;
  readonly body: Buffer;
}

export class SimNetwork {
  private readonly options: SimNetworkOptions;
  private readonly clock: VirtualClock;
  private lossProbability: number;
  private readonly slots = new Map<NodeId, NodeSlot>();
  private readonly idByAddress = new Map<Address, NodeId>();
  private readonly senderRandoms = new Map<NodeId, Random>();
  private readonly cuts = new Set<string>();
  /** Partition group of each node while partitioned; unlisted nodes share group -1. */
  private groups: Map<NodeId, number> | null = null;
  private readonly totals: NetworkStats = {
    sent: 0,
    bytesSent: 0,
    sentByKind: new Map(),
    delivered: 0,
    inFlight: 0,
    lost: { loss: 0, cut: 0, down: 0, unroutable: 0, expired: 0, overflow: 0, refused: 0 },
    firstRefusal: null,
  };

  constructor(
    options: Partial<SimNetworkOptions> & { readonly seed: number },
    clock: VirtualClock,
  ) {
    this.options = { ...SIM_NETWORK_DEFAULTS, ...options };
    checkDelayModel(this.options.delay);
    assert(this.options.pausedHoldMsMax >= 0, "pausedHoldMsMax must be ≥ 0");
    assert(
      Number.isSafeInteger(this.options.heldPerNodeMax) && this.options.heldPerNodeMax >= 0,
      "heldPerNodeMax must be an integer ≥ 0",
    );
    this.clock = clock;
    this.lossProbability = 0;
    this.setLoss(this.options.lossProbability);
  }

  /**
   * Connects a node (first start or restart): it is up, and messages to its earlier life are void.
   */
  attach(endpoint: SimEndpoint): void {
    const owner = this.idByAddress.get(endpoint.address);
    assert(
      owner === undefined || owner === endpoint.id,
      () => `address ${endpoint.address} belongs to ${owner}, not ${endpoint.id}`,
    );
    const slot = this.slots.get(endpoint.id);
    if (slot === undefined) {
      this.slots.set(endpoint.id, {
        endpoint,
        state: "up",
        life: 0,
        held: [],
        traffic: {
          messagesSent: 0,
          bytesSent: 0,
          messagesReceived: 0,
          bytesReceived: 0,
          sentByKind: new Map(),
        },
      });
    } else {
      assert(
        slot.endpoint.address === endpoint.address,
        "a node keeps its address across restarts",
      );
      this.dropHeld(slot, "down");
      slot.endpoint = endpoint;
      slot.state = "up";
      slot.life += 1;
    }
    this.idByAddress.set(endpoint.address, endpoint.id);
  }

  state(id: NodeId): NodeState | undefined {
    return this.slots.get(id)?.state;
  }

  /**
   * Pause stops delivery (messages are held); resume releases what is not too old; crash loses all.
   */
  setState(id: NodeId, state: NodeState): void {
    const slot = this.slotOf(id);
    const before = slot.state;
    if (before === state) return;
    assert(before !== "crashed", () => `${id} is crashed; attach a fresh endpoint to restart it`);
    slot.state = state;
    if (state === "crashed") {
      slot.life += 1;
      this.dropHeld(slot, "down");
    } else if (state === "up") {
      this.releaseHeld(slot);
    }
  }

  setLoss(probability: number): void {
    assert(
      probability >= 0 && probability <= 1,
      () => `loss probability must be in [0, 1], got ${probability}`,
    );
    this.lossProbability = probability;
  }

  get loss(): number {
    return this.lossProbability;
  }

  /** Cuts the link from → to only; the other direction keeps working. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cuts.add(linkKey(from, to));
  }

  restoreLink(from: NodeId, to: NodeId): void {
    this.cuts.delete(linkKey(from, to));
  }

  /**
   * Splits the nodes into groups that cannot reach each other. A node listed in no group (one added
   * later, say) is in one extra group with every other unlisted node. Replaces an earlier
   * partition; link cuts stay.
   */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((group, index) => {
      for (const id of group) {
        assert(!map.has(id), () => `${id} is in two partition groups`);
        map.set(id, index);
      }
    });
    this.groups = map;
  }

  /** Ends the partition and restores every cut link. */
  heal(): void {
    this.groups = null;
    this.cuts.clear();
  }

  linkOpen(from: NodeId, to: NodeId): boolean {
    if (this.cuts.size > 0 && this.cuts.has(linkKey(from, to))) return false;
    if (this.groups !== null && (this.groups.get(from) ?? -1) !== (this.groups.get(to) ?? -1))
      return false;
    return true;
  }

  /**
   * Sends what a node's engine returned. The sender must be up: a paused or crashed node sends
   * nothing.
   */
  send(from: NodeId, outbounds: readonly Outbound[]): void {
    for (const outbound of outbounds) this.sendOne(from, outbound);
  }

  traffic(id: NodeId): Readonly<NodeTraffic> {
    return this.slotOf(id).traffic;
  }

  stats(): Readonly<NetworkStats> {
    return this.totals;
  }

  // ---------------------------------------------------------------------------------------------

  private sendOne(from: NodeId, outbound: Outbound): void {
    const sender = this.slotOf(from);
    assert(sender.state === "up", () => `${from} is ${sender.state} and cannot send`);
    const body = encodePeerBody(outbound.message);
    const bytes = body.length;
    const traffic = sender.traffic;
    traffic.messagesSent += 1;
    traffic.bytesSent += bytes;
    countKind(traffic.sentByKind, outbound.message.kind, bytes);
    this.totals.sent += 1;
    this.totals.bytesSent += bytes;
    countKind(this.totals.sentByKind, outbound.message.kind, bytes);

    // Both draws happen for every message, lost or not, so each sender's stream stays aligned.
    const random = this.senderRandom(from);
    const lossDraw = random.next();
    const delayMs = this.drawDelay(random);

    const to = this.idByAddress.get(outbound.address);
    if (to === undefined) return this.lose("unroutable");
    if (lossDraw < this.lossProbability) return this.lose("loss");
    if (!this.linkOpen(from, to)) return this.lose("cut");
    const receiver = this.slotOf(to);
    if (receiver.state === "crashed") return this.lose("down");
    const life = receiver.life;
    const sentAtMs = this.clock.nowMs();
    this.totals.inFlight += 1;
    this.clock.schedule(delayMs, () => {
      this.totals.inFlight -= 1;
      this.arrive({ from, sentAtMs, body }, to, life);
    });
  }

  private arrive(message: HeldMessage, to: NodeId, life: number): void {
    if (!this.linkOpen(message.from, to)) return this.lose("cut");
    const receiver = this.slotOf(to);
    if (receiver.state === "crashed" || receiver.life !== life) return this.lose("down");
    if (receiver.state === "paused") {
      if (receiver.held.length >= this.options.heldPerNodeMax) return this.lose("overflow");
      receiver.held.push(message);
      this.totals.inFlight += 1;
      return;
    }
    this.handOver(receiver, message.body);
  }

  /** What the real peer route does with a body: decode, validate, then trust. */
  private handOver(receiver: NodeSlot, body: Buffer): void {
    let message: PeerMessage;
    try {
      message = validatePeerMessage(decodePeerBody(body));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (this.options.refusedPolicy === "throw") {
        throw new PeerMessageError(`${receiver.endpoint.id} refused a peer message: ${reason}`);
      }
      this.totals.firstRefusal ??= reason;
      return this.lose("refused");
    }
    receiver.traffic.messagesReceived += 1;
    receiver.traffic.bytesReceived += body.length;
    this.totals.delivered += 1;
    receiver.endpoint.deliver(message, this.clock.nowMs());
  }

  /**
   * On resume: what is young enough is delivered at once, in arrival order, after any task already
   * due.
   */
  private releaseHeld(slot: NodeSlot): void {
    const held = slot.held;
    if (held.length === 0) return;
    slot.held = [];
    const nowMs = this.clock.nowMs();
    const life = slot.life;
    for (const message of held) {
      this.totals.inFlight -= 1;
      if (nowMs - message.sentAtMs > this.options.pausedHoldMsMax) {
        this.lose("expired");
        continue;
      }
      this.totals.inFlight += 1;
      this.clock.schedule(0, () => {
        this.totals.inFlight -= 1;
        if (slot.life !== life) return this.lose("down");
        if (slot.state === "paused") {
          // Paused again before the release ran: hold it once more.
          if (slot.held.length >= this.options.heldPerNodeMax) return this.lose("overflow");
          slot.held.push(message);
          this.totals.inFlight += 1;
          return;
        }
        this.handOver(slot, message.body);
      });
    }
  }

  private dropHeld(slot: NodeSlot, cause: LossCause): void {
    for (let i = 0; i < slot.held.length; i++) {
      this.totals.inFlight -= 1;
      this.lose(cause);
    }
    slot.held = [];
  }

  private lose(cause: LossCause): void {
    this.totals.lost[cause] += 1;
  }

  private senderRandom(id: NodeId): Random {
    let random = this.senderRandoms.get(id);
    if (random === undefined) {
      random = createRandom(childSeed(this.options.seed, id));
      this.senderRandoms.set(id, random);
    }
    return random;
  }

  private drawDelay(random: Random): number {
    const delay = this.options.delay;
    const u = random.next();
    if (delay.kind === "uniform") return delay.minMs + u * (delay.maxMs - delay.minMs);
    // Inverse transform sampling: -mean·ln(1 - u) is exponential with that mean; 1 - u is in (0,
    // 1].
    return Math.min(delay.maxMs, delay.baseMs - delay.jitterMeanMs * Math.log(1 - u));
  }

  private slotOf(id: NodeId): NodeSlot {
    const slot = this.slots.get(id);
    assert(slot !== undefined, () => `${id} is not attached to the network`);
    return slot;
  }
}

function countKind(byKind: Map<string, KindTraffic>, kind: string, bytes: number): void {
  const counts = byKind.get(kind);
  if (counts === undefined) byKind.set(kind, { messages: 1, bytes });
  else {
    counts.messages += 1;
    counts.bytes += bytes;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}

function checkDelayModel(delay: DelayModel): void {
  if (delay.kind === "uniform") {
    assert(
      delay.minMs >= 0 && delay.maxMs >= delay.minMs,
      "a uniform delay needs 0 ≤ minMs ≤ maxMs",
    );
  } else {
    assert(
      delay.baseMs >= 0 && delay.jitterMeanMs >= 0 && delay.maxMs >= delay.baseMs,
      "an exponential delay needs 0 ≤ baseMs ≤ maxMs and jitterMeanMs ≥ 0",
    );
  }
}
