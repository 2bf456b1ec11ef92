// sim/sim-http.ts — the simulated network under the node-to-node HTTP requests of simulated
// nodes. Each node sends through a SimPeerHttp (sim/sim-http-client.ts, the PeerHttp port) and
// serves at its address with its InternalRoutes (net/internal-routes.ts), so the clients'
// batching, deadlines, encoding and reply checks and the routes' guards are the real ones; only
// the wire is simulated.
//
// Theory of operation. A request is an exchange of two one-way messages, request and reply, each
// with faults decided by seeded chance and virtual time:
//
// - Every request draws its whole fate from its sender's own random stream (a child of the
//   network seed named by the sender's address) when it is sent, always the same draws, so
//   changing the loss rate or adding a node does not reshuffle every other node's traffic, and
//   when a handler finishes does not change what the network decides.
// - One-way delays are whole milliseconds, uniform in [minMs, maxMs]: the run loop pays per
//   instant (sim/sim-loop.ts), so messages should share instants.
// - A request or a reply may be lost; the caller then learns nothing until its deadline, as with
//   a silent peer over TCP. A request may be duplicated (a retransmission the receiver sees
//   twice): both copies are handled and the first reply that arrives is used.
// - Links can be cut one direction at a time and the addresses split into partition groups; a
//   message is lost when its link is closed when it is sent or when it arrives. A cut a → b loses
//   a's requests to b and a's replies to b's requests alike, as a one-way fault breaks TCP both
//   ways.
// - A paused node (SIGSTOP, a long GC) holds what arrives for it, requests and replies alike, as
//   its socket buffers would, and gets it at resume if it is not older than `pausedHoldMsMax`.
// - A request to an address nobody listens on is refused (ECONNREFUSED) one delay after it is
//   sent. A crash ends a life: what is held or in flight to it, and the replies its handlers were
//   still computing, are lost; listening again starts a new life that never sees the old one's
//   traffic.
// - A reply to a sender whose life ended is lost; one to a paused sender is held like a request.
//   Each client keeps its deadlines on the clock it is given, a node's LifeClock in a cluster, so
//   a killed node's requests never time out and a paused one's time out at its resume.
// - Bodies are copied once per hop, as they are sent (what the sender changes later is not on the
//   wire), and each delivered copy of a request has its own bytes, so two nodes never share memory.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import type { Address } from "../core/ids.js";
import { createRandom, randomInt, type Random } from "../core/random.js";
import type { InternalReply, InternalRequest } from "../net/internal-routes.js";
import type { PeerHttp } from "../net/peer-http.js";
import { childSeed } from "./seeds.js";
import { SimPeerHttp, type SimHttpCall } from "./sim-http-client.js";

export interface SimHttpRoutes {
  handle(request: InternalRequest): Promise<InternalReply>;
}

export interface SimHttpNetworkOptions {
  readonly clock: Clock;
  readonly seed: number;
  /** One-way delay of each message, whole ms, uniform in [minMs, maxMs]. */
  readonly delay?: { readonly minMs: number; readonly maxMs: number };
  /** Chance that one message (a request or a reply) is lost, 0..1. */
  readonly lossProbability?: number;
  /** Chance that a request is delivered twice, 0..1. */
  readonly duplicateProbability?: number;
  /** What a paused node holds is lost when older than this at its resume, ms. */
  readonly pausedHoldMsMax?: number;
}

export const SIM_HTTP_DEFAULTS = {
  delay: { minMs: 1, maxMs: 5 },
  lossProbability: 0,
  duplicateProbability: 0,
  /** A peer client's deadline is seconds; a request older than this has long been given up on. */
  pausedHoldMsMax: 10_000,
} as const;

/** Why a message went missing. `senderGone`: a reply whose sender's life ended meanwhile. */
export type SimHttpLossCause = "loss" | "cut" | "down" | "expired" | "senderGone";

export interface SimHttpCounters {
  /** Requests sent by callers (a duplicate counts once here and once in `duplicated`). */
  requests: number;
  duplicated: number;
  /** Request copies handed to a receiver's routes. */
  handled: number;
  /** Replies that settled a caller's request. */
  replies: number;
  /** Replies that arrived after their request was settled (a duplicate's, or past the deadline). */
  repliesUnused: number;
  refused: number;
  timedOut: number;
  lost: Record<SimHttpLossCause, number>;
}

interface Held {
  readonly sentAtMs: number;
  readonly act: () => void;
}

interface Slot {
  readonly routes: SimHttpRoutes;
  readonly life: number;
  paused: boolean;
  held: Held[];
}

/** The fate of one copy of a request, drawn when it is sent. */
interface CopyFate {
  readonly requestLost: boolean;
  readonly requestDelayMs: number;
  readonly replyLost: boolean;
  readonly replyDelayMs: number;
}

/** Copies a request can have: the original and one duplicate. */
const COPIES_MAX = 2;

export class SimHttpNetwork {
  private readonly clock: Clock;
  private readonly seed: number;
  private readonly delay: { readonly minMs: number; readonly maxMs: number };
  private readonly pausedHoldMsMax: number;
  private lossProbability: number;
  private duplicateProbability: number;
  private readonly slots = new Map<Address, Slot>();
  /** The last life number given out per address; a new listen takes the next. */
  private readonly lives = new Map<Address, number>();
  private readonly randoms = new Map<Address, Random>();
  private readonly cuts = new Set<string>();
  private groups: Map<Address, number> | null = null;
  private readonly totals: SimHttpCounters = {
    requests: 0,
    duplicated: 0,
    handled: 0,
    replies: 0,
    repliesUnused: 0,
    refused: 0,
    timedOut: 0,
    lost: { loss: 0, cut: 0, down: 0, expired: 0, senderGone: 0 },
  };

  constructor(options: SimHttpNetworkOptions) {
    this.clock = options.clock;
    this.seed = options.seed;
    this.delay = options.delay ?? SIM_HTTP_DEFAULTS.delay;
    const { minMs, maxMs } = this.delay;
    assert(
      Number.isInteger(minMs) && Number.isInteger(maxMs) && minMs >= 0 && maxMs >= minMs,
      () => `a delay needs whole ms with 0 ≤ minMs ≤ maxMs, got ${minMs}..${maxMs}`,
    );
    this.pausedHoldMsMax = options.pausedHoldMsMax ?? SIM_HTTP_DEFAULTS.pausedHoldMsMax;
    this.lossProbability = checkedProbability(
      options.lossProbability ?? SIM_HTTP_DEFAULTS.lossProbability,
    );
    this.duplicateProbability = checkedProbability(
      options.duplicateProbability ?? SIM_HTTP_DEFAULTS.duplicateProbability,
    );
  }

  /** A node's life starts serving at `address`; nothing may be listening there already. */
  listen(address: Address, routes: SimHttpRoutes): void {
    assert(!this.slots.has(address), () => `${address} is already listening`);
    const life = (this.lives.get(address) ?? 0) + 1;
    this.lives.set(address, life);
    this.slots.set(address, { routes, life, paused: false, held: [] });
  }

  /** Ends the life at `address`: what is held or in flight to it gets no reply. */
  crash(address: Address): void {
    const slot = this.slots.get(address);
    if (slot === undefined) return;
    this.slots.delete(address);
    this.totals.lost.down += slot.held.length;
    slot.held = [];
  }

  pause(address: Address): void {
    this.slotOf(address).paused = true;
  }

  /** What the node held and is young enough is delivered now, in arrival order. */
  resume(address: Address): void {
    const slot = this.slotOf(address);
    if (!slot.paused) return;
    slot.paused = false;
    const held = slot.held;
    slot.held = [];
    const nowMs = this.clock.nowMs();
    for (const item of held) {
      if (nowMs - item.sentAtMs > this.pausedHoldMsMax) {
        this.totals.lost.expired += 1;
        continue;
      }
      // After every task already due now, as a woken process reads its buffers; paused again or
      // crashed before then, reach() holds or drops it again.
      this.clock.schedule(0, () => this.reach(address, slot.life, item));
    }
  }

  /**
   * Splits the addresses into groups that cannot reach each other. An address in no group is in
   * one extra group with every other unlisted one. Replaces an earlier partition; cuts stay.
   */
  partition(groups: readonly (readonly Address[])[]): void {
    const map = new Map<Address, number>();
    groups.forEach((group, index) => {
      for (const address of group) {
        assert(!map.has(address), () => `${address} is in two partition groups`);
        map.set(address, index);
      }
    });
    this.groups = map;
  }

  /** Cuts the link from → to only; the other direction keeps working. */
  cut(from: Address, to: Address): void {
    this.cuts.add(linkKey(from, to));
  }

  /** Restores the link from → to that cut() cut. */
  restore(from: Address, to: Address): void {
    this.cuts.delete(linkKey(from, to));
  }

  /** Ends the partition and restores every cut link. */
  heal(): void {
    this.groups = null;
    this.cuts.clear();
  }

  setLoss(p: number): void {
    this.lossProbability = checkedProbability(p);
  }

  setDuplication(p: number): void {
    this.duplicateProbability = checkedProbability(p);
  }

  /** The PeerHttp a node at `from` sends through; its deadlines run on `clock` (its life's). */
  client(from: Address, clock: Clock = this.clock): PeerHttp {
    return new SimPeerHttp(from, clock, {
      send: (sender, to, call) => this.send(sender, to, call),
      timedOut: () => {
        this.totals.timedOut += 1;
      },
    });
  }

  counters(): Readonly<SimHttpCounters> {
    return { ...this.totals, lost: { ...this.totals.lost } };
  }

  linkOpen(from: Address, to: Address): boolean {
    if (this.cuts.size > 0 && this.cuts.has(linkKey(from, to))) return false;
    if (this.groups === null) return true;
    return (this.groups.get(from) ?? -1) === (this.groups.get(to) ?? -1);
  }

  // ---------------------------------------------------------------------------------------------

  private send(from: Address, to: Address, call: SimHttpCall): void {
    this.totals.requests += 1;
    // Every draw happens for every request, so each sender's stream stays aligned whatever happens.
    const random = this.randomOf(from);
    const duplicated = random.next() < this.duplicateProbability;
    const fates: CopyFate[] = [];
    for (let i = 0; i < COPIES_MAX; i++) fates.push(this.drawFate(random));
    const copies = duplicated ? fates : fates.slice(0, 1);
    if (duplicated) this.totals.duplicated += 1;
    const senderLife = this.slots.get(from)?.life;
    const receiverLife = this.slots.get(to)?.life;
    for (const fate of copies) this.sendCopy(from, to, call, fate, senderLife, receiverLife);
  }

  /** The request as one copy of it arrives: its own headers and bytes, taken when it is sent. */
  private wireCopy(request: SimHttpCall["request"]): InternalRequest {
    return {
      method: request.method,
      path: request.path,
      headers: { ...request.headers },
      body: request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body),
    };
  }

  private sendCopy(
    from: Address,
    to: Address,
    call: SimHttpCall,
    fate: CopyFate,
    senderLife: number | undefined,
    receiverLife: number | undefined,
  ): void {
    if (fate.requestLost) return this.lose("loss");
    if (!this.linkOpen(from, to)) return this.lose("cut");
    const sentAtMs = this.clock.nowMs();
    const internal = this.wireCopy(call.request);
    this.clock.schedule(fate.requestDelayMs, () => {
      if (!this.linkOpen(from, to)) return this.lose("cut");
      const slot = this.slots.get(to);
      if (slot === undefined) {
        this.totals.refused += 1;
        call.fail(refused(to));
        return;
      }
      // The connection was to a life that has ended; a new one never sees its requests.
      if (receiverLife !== undefined && receiverLife !== slot.life) return this.lose("down");
      const handle = (): void => this.handle(from, to, slot.life, internal, call, fate, senderLife);
      this.reach(to, slot.life, { sentAtMs, act: handle });
    });
  }

  private handle(
    from: Address,
    to: Address,
    life: number,
    internal: InternalRequest,
    call: SimHttpCall,
    fate: CopyFate,
    senderLife: number | undefined,
  ): void {
    const slot = this.slotOf(to);
    this.totals.handled += 1;
    // InternalRoutes.handle never rejects; a rejection here is a bug and surfaces as unhandled.
    void slot.routes.handle(internal).then((reply) => {
      if (this.slots.get(to)?.life !== life) return this.lose("down");
      this.sendReply(to, from, call, fate, senderLife, reply);
    });
  }

  private sendReply(
    from: Address,
    to: Address,
    call: SimHttpCall,
    fate: CopyFate,
    callerLife: number | undefined,
    reply: InternalReply,
  ): void {
    if (fate.replyLost) return this.lose("loss");
    if (!this.linkOpen(from, to)) return this.lose("cut");
    const body = Buffer.from(reply.body);
    const sentAtMs = this.clock.nowMs();
    this.clock.schedule(fate.replyDelayMs, () => {
      if (!this.linkOpen(from, to)) return this.lose("cut");
      const deliver = (): void => {
        if (call.answer(reply.statusCode, body)) this.totals.replies += 1;
        else this.totals.repliesUnused += 1;
      };
      // A caller that never listened (a test's client) has no life to end or pause.
      if (callerLife === undefined) return deliver();
      if (this.slots.get(to)?.life !== callerLife) return this.lose("senderGone");
      this.reach(to, callerLife, { sentAtMs, act: deliver });
    });
  }

  /** Hands `item` to the life `life` at `address`: held while it is paused, lost once it ended. */
  private reach(address: Address, life: number, item: Held): void {
    const slot = this.slots.get(address);
    if (slot === undefined || slot.life !== life) return this.lose("down");
    if (slot.paused) {
      slot.held.push(item);
      return;
    }
    item.act();
  }

  private drawFate(random: Random): CopyFate {
    return {
      requestLost: random.next() < this.lossProbability,
      requestDelayMs: this.drawDelay(random),
      replyLost: random.next() < this.lossProbability,
      replyDelayMs: this.drawDelay(random),
    };
  }

  private drawDelay(random: Random): number {
    const { minMs, maxMs } = this.delay;
    return minMs + randomInt(random, maxMs - minMs + 1);
  }

  private randomOf(address: Address): Random {
    let random = this.randoms.get(address);
    if (random === undefined) {
      random = createRandom(childSeed(this.seed, address));
      this.randoms.set(address, random);
    }
    return random;
  }

  private lose(cause: SimHttpLossCause): void {
    this.totals.lost[cause] += 1;
  }

  private slotOf(address: Address): Slot {
    const slot = this.slots.get(address);
    assert(slot !== undefined, () => `nothing listens at ${address}`);
    return slot;
  }
}

function refused(address: Address): Error {
  return Object.assign(new Error("connection refused"), { code: "ECONNREFUSED", address });
}

function checkedProbability(p: number): number {
  assert(p >= 0 && p <= 1, () => `a probability must be in [0, 1], got ${p}`);
  return p;
}

function linkKey(from: Address, to: Address): string {
  return `${from}\u0000${to}`;
}
