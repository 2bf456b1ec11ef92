// gossip/gossiper.ts — the gossip state machine: one node's endpoint states of every member, kept
// in step with the cluster by push-pull rounds and eager rumors.
//
// Theory of operation. State: an EndpointRecord per known member (this node's own included), the
// ids in sorted order, and a running summary of all digests (digest.ts). This node is the only
// writer of its own record: setLocal bumps one per-node version counter (Cassandra's
// VersionGenerator) only when a value really changes, and nothing else bumps it; there is no
// gossiped heartbeat (liveness comes from the direct heartbeats of detector/), so a quiet cluster's
// states, and summaries, stand still.
//
// A round (tick) follows Cassandra's Gossiper.run with peer-selection.ts: a live member, sometimes
// an unreachable one, sometimes a seed. Each gets a gossip-syn carrying only the 64-bit summary; a
// peer whose summary is equal stays silent, so agreeing nodes pay one small message per round.
// Otherwise the exchange is Cassandra's SYN → ACK → ACK2 (messages.ts): the peer sends its digests,
// the initiator answers with the deltas the peer lacks and requests for what it lacks, the peer
// answers the requests. Both sides then hold the union. A newer generation replaces a member's
// whole state (a restart); an older one is ignored. States about this node from others are never
// taken: it is their authority.
//
// Urgent keys (status, votes, incarnation) are also pushed at once as rumors (rumors.ts), so a
// status change does not wait for rounds to carry it; each is forwarded once and dies out.
//
// Parts: endpoint-table.ts holds the records, the shared id order and the summary; exchange.ts
// answers syns, digests and acks and cuts deltas to a message's budget; rumors.ts queues and
// batches rumors. This class owns the order of events: versions, merging deltas, what counts as a
// change, the stats.
//
// Bounds: the digest window and the delta bytes and entries per message (exchange.ts), members
// known (a new member beyond it is refused and counted), states per member, key and value lengths
// (messages.ts), and pending rumors (rumors.ts; dropped and counted beyond it).
//
// Guarantees: with messages eventually delivered between live members, every live node's summary
// converges to the same value, and then every node holds every member's newest states.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import {
  cutDelta,
  EndpointRecord,
  mergeDelta,
  type EndpointState,
  type MergeOptions,
} from "./endpoint-state.js";
import { EndpointTable } from "./endpoint-table.js";
import { Exchange } from "./exchange.js";
import { GOSSIP_LIMITS, type Delta, type GossipMessage, type GossipRumor } from "./messages.js";
import { choosePeers } from "./peer-selection.js";
import { RumorQueue } from "./rumors.js";
import {
  resolveLimits,
  type GossiperLimits,
  type GossiperOptions,
  type GossiperStats,
  type MutableStats,
} from "./gossiper-options.js";

export type { EndpointState } from "./endpoint-state.js";
export type { GossiperOptions, GossiperStats } from "./gossiper-options.js";

export type GossipChange =
  | { kind: "joined"; id: NodeId }
  | { kind: "restarted"; id: NodeId; generation: number }
  | { kind: "updated"; id: NodeId }
  | { kind: "forgotten"; id: NodeId };

export interface GossipOutbound {
  /** null: a seed whose id is not known yet, reached by address. */
  readonly to: NodeId | null;
  readonly address: Address;
  readonly message: GossipMessage;
}

export class Gossiper {
  private readonly self: NodeId;
  private readonly address: Address;
  private readonly random: Random;
  private readonly seeds: readonly Address[];
  private readonly urgentKeys: ReadonlySet<string>;
  private readonly rumorFanout: number;
  private readonly limits: GossiperLimits;
  private readonly mergeOptions: MergeOptions;

  private readonly table: EndpointTable;
  private readonly exchange: Exchange;
  private readonly rumors: RumorQueue;
  private readonly liveScratch: NodeId[] = [];
  private readonly unreachableScratch: NodeId[] = [];
  private readonly selfRecord: EndpointRecord;
  private versionCounter = 0;
  private selfAnnounced = false;
  private ticked = false;
  private changes: GossipChange[] = [];
  private readonly counters: MutableStats = {
    rounds: 0,
    messagesSent: 0,
    messagesReceived: 0,
    messagesIgnored: 0,
    rumorsSent: 0,
    rumorsDropped: 0,
    deltasIgnored: 0,
    statesRefused: 0,
    membersRefused: 0,
  };

  constructor(options: GossiperOptions, random: Random) {
    assert(
      options.self.length > 0 && options.self.length <= GOSSIP_LIMITS.nodeIdLengthMax,
      "self id length",
    );
    assert(
      options.address.length > 0 && options.address.length <= GOSSIP_LIMITS.addressLengthMax,
      "address length",
    );
    assert(
      Number.isSafeInteger(options.generation) && options.generation > 0,
      "generation is a positive integer",
    );
    assert(
      Number.isInteger(options.rumorFanout) && options.rumorFanout >= 0,
      "rumorFanout is a count",
    );
    this.self = options.self;
    this.address = options.address;
    this.random = random;
    this.seeds = [...new Set(options.seeds)].filter((seed) => seed !== options.address);
    this.urgentKeys = new Set(options.urgentKeys);
    this.rumorFanout = options.rumorFanout;
    this.limits = resolveLimits(options);
    const l = this.limits;
    this.mergeOptions = {
      urgentKeys: this.urgentKeys,
      appStatesPerEndpointMax: l.appStatesPerEndpointMax,
    };
    this.table = new EndpointTable(new Set(this.seeds));
    const budget = {
      deltasPerMessageMax: l.deltasPerMessageMax,
      deltaBytesPerMessageMax: l.deltaBytesPerMessageMax,
    };
    this.exchange = new Exchange(
      {
        self: this.self,
        address: this.address,
        membersMax: l.membersMax,
        digestsPerMessageMax: l.digestsPerMessageMax,
        ...budget,
      },
      this.table,
    );
    this.rumors = new RumorQueue(
      {
        self: this.self,
        rumorFanout: this.rumorFanout,
        rumorsPendingMax: l.rumorsPendingMax,
        ...budget,
      },
      this.table,
      random,
    );
    this.selfRecord = new EndpointRecord({
      id: this.self,
      address: this.address,
      generation: options.generation,
    });
    this.table.add(this.selfRecord);
  }

  get stats(): GossiperStats {
    return this.counters;
  }

  /**
   * Sets one of this node's application states; no version is spent when the value is unchanged.
   */
  setLocal(key: string, value: string): void {
    assert(
      key.length > 0 && key.length <= GOSSIP_LIMITS.keyLengthMax,
      () => `application state key ${key} length`,
    );
    assert(
      value.length <= GOSSIP_LIMITS.valueLengthMax,
      () => `application state ${key} is ${value.length} characters long`,
    );
    const record = this.selfRecord;
    const held = record.state(key);
    if (held !== undefined && held.value === value) return;
    assert(
      held !== undefined || record.stateCount < this.limits.appStatesPerEndpointMax,
      "this node publishes at most appStatesPerEndpointMax application states",
    );
    this.versionCounter += 1;
    record.put({ key, value, version: this.versionCounter });
    record.maxVersion = this.versionCounter;
    this.table.rehash(record);
    this.changes.push(
      this.selfAnnounced ? { kind: "updated", id: this.self } : { kind: "joined", id: this.self },
    );
    this.selfAnnounced = true;
    // Before the first round the state is an introduction, spread by exchange (see the header).
    if (this.ticked && this.urgentKeys.has(key)) this.queueRumor(this.self, this.versionCounter);
  }

  /** One gossip round: a syn to the peers peer-selection.ts chooses, and any rumors waiting. */
  // Gossip needs no clock (rounds are paced by the caller); the time stays in the signature of
  // every engine.
  tick(_nowMs: number, isLive: (id: NodeId) => boolean): GossipOutbound[] {
    this.counters.rounds += 1;
    this.ticked = true;
    // Reused every round: two member-long arrays per node per round add up in a simulator.
    const live = this.liveScratch;
    const unreachable = this.unreachableScratch;
    live.length = 0;
    unreachable.length = 0;
    for (const id of this.table.sortedIds()) {
      if (id === this.self) continue;
      (isLive(id) ? live : unreachable).push(id);
    }
    const choice = choosePeers(
      { live, unreachable, seeds: this.seeds, seedId: (seed) => this.table.seedId(seed) },
      this.random,
    );
    const syn: GossipMessage = {
      kind: "gossip-syn",
      from: this.self,
      fromAddress: this.address,
      summary: this.summary(),
    };
    const out: GossipOutbound[] = [];
    for (const id of [choice.live, choice.unreachable]) {
      const record = id === null ? undefined : this.table.get(id);
      if (record !== undefined) out.push({ to: record.id, address: record.address, message: syn });
    }
    const seed = choice.seed;
    if (
      seed !== null &&
      seed.id !== this.self &&
      !out.some((o) => o.to !== null && o.to === seed.id)
    ) {
      out.push({ to: seed.id, address: seed.address, message: syn });
    }
    out.push(...this.flushRumors(isLive, null));
    this.counters.messagesSent += out.length;
    return out;
  }

  /**
   * Pushes this node's states from `key`'s version on to up to `targetsMax` live members at once,
   * as one rumor each: an announcement that cannot wait for rounds or rumor hops, because the node
   * is about to go quiet (a clean stop). Each target forwards it once like any rumor, so members
   * past `targetsMax` hear it a hop later. Sorted id order: the choice needs no chance.
   */
  announce(key: string, isLive: (id: NodeId) => boolean, targetsMax: number): GossipOutbound[] {
    assert(Number.isInteger(targetsMax) && targetsMax >= 0, "targetsMax is a count");
    const record = this.selfRecord;
    const state = record.state(key);
    assert(state !== undefined, () => `announce of ${key}, which this node does not publish`);
    const claim = { fromVersion: state.version - 1, throughVersion: record.maxVersion };
    const cut =
      cutDelta(record, claim, this.limits.deltaBytesPerMessageMax) ??
      cutDelta(record, claim, GOSSIP_LIMITS.deltaBytesPerMessageMax);
    assert(cut !== null, "one entry with one state fits deltaBytesPerMessageMax");
    const rumor: GossipRumor = {
      kind: "gossip-rumor",
      from: this.self,
      fromAddress: this.address,
      deltas: [cut.delta],
    };
    const out: GossipOutbound[] = [];
    for (const id of this.table.sortedIds()) {
      if (out.length >= targetsMax) break;
      if (id !== this.self && isLive(id))
        out.push({ to: id, address: this.table.recordOf(id).address, message: rumor });
    }
    this.counters.rumorsSent += out.length;
    this.counters.messagesSent += out.length;
    return out;
  }

  /** A validated gossip message arrived; returns the replies and any rumors it set off. */
  receive(
    message: GossipMessage,
    _nowMs: number,
    isLive: (id: NodeId) => boolean,
  ): GossipOutbound[] {
    this.counters.messagesReceived += 1;
    if (message.from === this.self) {
      this.counters.messagesIgnored += 1;
      return [];
    }
    const out: GossipOutbound[] = [];
    const replyTo = (reply: GossipMessage): void => {
      out.push({ to: message.from, address: message.fromAddress, message: reply });
    };
    switch (message.kind) {
      case "gossip-syn":
        if (message.summary !== this.summary()) replyTo(this.exchange.digestsFor(message.from));
        break;
      case "gossip-digests": {
        const ack = this.exchange.ackFor(message);
        if (ack.deltas.length > 0 || ack.requests.length > 0) replyTo(ack);
        break;
      }
      case "gossip-ack": {
        this.applyDeltas(message.deltas);
        const deltas = this.exchange.answerRequests(message.requests, message.from);
        if (deltas.length > 0)
          replyTo({ kind: "gossip-ack2", from: this.self, fromAddress: this.address, deltas });
        break;
      }
      case "gossip-ack2":
      case "gossip-rumor":
        this.applyDeltas(message.deltas);
        break;
    }
    out.push(...this.flushRumors(isLive, message.from));
    this.counters.messagesSent += out.length;
    return out;
  }

  takeChanges(): GossipChange[] {
    const changes = this.changes;
    this.changes = [];
    return changes;
  }

  /**
   * A live, read-only view of a member's state (this node's own included); do not keep it across
   * calls.
   */
  endpoint(id: NodeId): EndpointState | undefined {
    return this.table.get(id);
  }

  /** Every known member id, this node's included, in string order. */
  knownIds(): NodeId[] {
    return [...this.table.sortedIds()];
  }

  /** The 64-bit summary of every digest held, as sent in gossip-syn (16 hex digits). */
  summary(): string {
    return this.table.summary();
  }

  /**
   * Drops a member (e.g. one that left). Like Cassandra without its quarantine, a member still held
   * by others comes back with their next delta, so the caller should forget it on every node.
   */
  forget(id: NodeId): boolean {
    assert(id !== this.self, "a node cannot forget itself");
    if (!this.table.remove(id)) return false;
    this.rumors.forget(id);
    this.changes.push({ kind: "forgotten", id });
    return true;
  }

  // --- merge ---------------------------------------------------------------------------------

  private applyDeltas(deltas: readonly Delta[]): void {
    for (const delta of deltas) this.applyDelta(delta);
  }

  private applyDelta(delta: Delta): void {
    if (delta.id === this.self) {
      this.counters.deltasIgnored += 1;
      return;
    }
    let record = this.table.get(delta.id);
    const knewBefore = record !== undefined;
    let fresh = false;
    if (record === undefined || delta.generation > record.generation) {
      // A member's state can only start from its beginning; a partial one waits for the exchange.
      if (delta.fromVersion !== 0) {
        this.counters.deltasIgnored += 1;
        return;
      }
      if (record === undefined && this.table.size >= this.limits.membersMax) {
        this.counters.membersRefused += 1;
        return;
      }
      const next = new EndpointRecord({
        id: delta.id,
        address: delta.address,
        generation: delta.generation,
        idHash: record?.idHash,
      });
      if (record === undefined) {
        this.table.add(next);
        this.changes.push({ kind: "joined", id: delta.id });
      } else {
        this.table.replace(record, next);
        this.changes.push({ kind: "restarted", id: delta.id, generation: delta.generation });
      }
      record = next;
      fresh = true;
    } else if (delta.generation < record.generation) {
      this.counters.deltasIgnored += 1;
      return;
    }
    const result = mergeDelta(record, delta, this.mergeOptions);
    this.counters.statesRefused += result.refused;
    this.table.rehash(record);
    if (!fresh && result.changed) this.changes.push({ kind: "updated", id: delta.id });
    // A member first heard of is not re-rumored (see rumors.ts).
    if (knewBefore && result.urgentVersionMin !== null)
      this.queueRumor(delta.id, result.urgentVersionMin);
  }

  // --- rumors --------------------------------------------------------------------------------

  private queueRumor(id: NodeId, version: number): void {
    if (!this.rumors.queue(id, version)) this.counters.rumorsDropped += 1;
  }

  /**
   * Every pending rumor, as rumor messages to `rumorFanout` random live members (not `exclude`).
   */
  private flushRumors(isLive: (id: NodeId) => boolean, exclude: NodeId | null): GossipOutbound[] {
    const push = this.rumors.take(isLive, exclude);
    if (push === null) return [];
    const out: GossipOutbound[] = [];
    for (const deltas of push.batches) {
      const rumor: GossipRumor = {
        kind: "gossip-rumor",
        from: this.self,
        fromAddress: this.address,
        deltas,
      };
      for (const target of push.targets)
        out.push({ to: target, address: this.table.recordOf(target).address, message: rumor });
    }
    this.counters.rumorsSent += out.length;
    return out;
  }
}
