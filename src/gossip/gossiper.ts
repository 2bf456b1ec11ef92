// gossip/gossiper.ts — the gossip state machine: one node's endpoint states of every member, kept in
// step with the cluster by push-pull rounds and eager rumors.
//
// Theory of operation. State: an EndpointRecord per known member (this node's own included), the ids in
// sorted order, and a running summary of all digests (digest.ts). This node is the only writer of its
// own record: setLocal bumps one per-node version counter (Cassandra's VersionGenerator) only when a
// value really changes, and nothing else bumps it; there is no gossiped heartbeat (liveness comes from
// the direct heartbeats of detector/), so a quiet cluster's states, and summaries, stand still.
//
// A round (tick) follows Cassandra's Gossiper.run with peer-selection.ts: a live member, sometimes an
// unreachable one, sometimes a seed. Each gets a gossip-syn carrying only the 64-bit summary; a peer
// whose summary is equal stays silent, so agreeing nodes pay one small message per round. Otherwise the
// exchange is Cassandra's SYN → ACK → ACK2 (messages.ts): the peer sends its digests, the initiator
// answers with the deltas the peer lacks and requests for what it lacks, the peer answers the requests.
// Both sides then hold the union. A newer generation replaces a member's whole state (a restart); an
// older one is ignored. States about this node from others are never taken: it is their authority.
//
// Urgent keys (status, votes, incarnation) are also pushed as rumors, infection-style (Demers et al.,
// "Epidemic algorithms for replicated database maintenance", 1987): when this node changes one, or
// learns a newer value of one about a member it already knew, it pushes that member's delta to
// `rumorFanout` random live members, once. Each (member, generation, version) is applied once, so it
// is forwarded once; a rumor dies out when every node has it. The very first states of a node (set
// before its first round) are its introduction and travel by exchange, not by rumor, so a cluster
// starting cold does not flood; likewise a member first heard of is not re-rumored.
//
// Bounds: the digest window (a larger membership is sent as a rotating window of ids, plus the
// requester's own digest so a node can always introduce itself), the estimated delta bytes per message
// (a truncated delta is a valid prefix; the next round goes on from where this one stopped, rotating
// over members by id so none is starved), members known (a new member beyond it is refused and
// counted), states per member, key and value lengths (messages.ts), and pending rumors (dropped and
// counted beyond it; the exchange still delivers what a dropped rumor would have).
//
// Guarantees: with messages eventually delivered between live members, every live node's summary
// converges to the same value, and then every node holds every member's newest states.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { compareDigest, inCyclicRange, Summary } from "./digest.js";
import { cutDelta, EndpointRecord, mergeDelta, type EndpointState, type MergeOptions } from "./endpoint-state.js";
import {
  GOSSIP_LIMITS,
  type Delta,
  type DigestRequest,
  type GossipAck,
  type GossipDigests,
  type GossipMessage,
  type GossipRumor,
} from "./messages.js";
import { choosePeers, pickRumorTargets } from "./peer-selection.js";

export type { AppState, EndpointState } from "./endpoint-state.js";

/** Defaults of the gossiper's own bounds; the wire bounds are GOSSIP_LIMITS (messages.ts). */
export const GOSSIPER_DEFAULTS = {
  /** Members one node keeps; a new member beyond it is refused (counted in membersRefused). */
  membersMax: 10_000,
  /** Members with a rumor waiting to go out; beyond it new rumors are dropped (counted). */
  rumorsPendingMax: 1024,
  digestsPerMessageMax: GOSSIP_LIMITS.digestsPerMessageMax,
  deltasPerMessageMax: GOSSIP_LIMITS.deltasPerMessageMax,
  deltaBytesPerMessageMax: GOSSIP_LIMITS.deltaBytesPerMessageMax,
  appStatesPerEndpointMax: GOSSIP_LIMITS.appStatesPerEndpointMax,
} as const;

export interface GossiperOptions {
  readonly self: NodeId;
  readonly address: Address;
  /** This start's generation (ms since the epoch at start); a restart must use a larger one. */
  readonly generation: number;
  /** Seed addresses; this node's own address is ignored. */
  readonly seeds: readonly Address[];
  /** Keys whose changes are pushed at once as rumors. */
  readonly urgentKeys: readonly string[];
  readonly rumorFanout: number;
  readonly membersMax?: number;
  readonly rumorsPendingMax?: number;
  /** At most GOSSIP_LIMITS.digestsPerMessageMax. */
  readonly digestsPerMessageMax?: number;
  /** At most GOSSIP_LIMITS.deltasPerMessageMax. */
  readonly deltasPerMessageMax?: number;
  /** At most GOSSIP_LIMITS.deltaBytesPerMessageMax; one state is always sent even if it alone exceeds this. */
  readonly deltaBytesPerMessageMax?: number;
  /** At most GOSSIP_LIMITS.appStatesPerEndpointMax. */
  readonly appStatesPerEndpointMax?: number;
}

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

export interface GossiperStats {
  readonly rounds: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Messages from this node itself. */
  readonly messagesIgnored: number;
  /** Rumor messages sent (each target counts). */
  readonly rumorsSent: number;
  /** Rumors not queued because rumorsPendingMax members already had one waiting. */
  readonly rumorsDropped: number;
  /** Delta entries ignored: about this node, an older generation, or a partial state of a member not held. */
  readonly deltasIgnored: number;
  /** States refused because their member already had appStatesPerEndpointMax keys. */
  readonly statesRefused: number;
  /** New members refused because membersMax were known. */
  readonly membersRefused: number;
}

type MutableStats = { -readonly [K in keyof GossiperStats]: number };

interface DeltaCandidate {
  readonly record: EndpointRecord;
  readonly fromVersion: number;
  readonly throughVersion: number;
}

export class Gossiper {
  private readonly self: NodeId;
  private readonly address: Address;
  private readonly random: Random;
  private readonly seeds: readonly Address[];
  private readonly urgentKeys: ReadonlySet<string>;
  private readonly rumorFanout: number;
  private readonly limits: Required<
    Pick<
      GossiperOptions,
      | "membersMax"
      | "rumorsPendingMax"
      | "digestsPerMessageMax"
      | "deltasPerMessageMax"
      | "deltaBytesPerMessageMax"
      | "appStatesPerEndpointMax"
    >
  >;
  private readonly mergeOptions: MergeOptions;

  private readonly endpoints = new Map<NodeId, EndpointRecord>();
  /** Every known id, this node's included; sorted lazily (a delta can add thousands at once). */
  private readonly ids: NodeId[] = [];
  private idsSorted = true;
  /** Seed address → the id of the member there, once known (only seeds: a map of every address would cost N² in a simulator). */
  private readonly seedIds = new Map<Address, NodeId>();
  private readonly seedSet: ReadonlySet<Address>;
  private readonly liveScratch: NodeId[] = [];
  private readonly unreachableScratch: NodeId[] = [];
  private readonly summaryHash = new Summary();
  private readonly selfRecord: EndpointRecord;
  private versionCounter = 0;
  private selfAnnounced = false;
  private ticked = false;
  private changes: GossipChange[] = [];
  /** Member → oldest urgent version not yet rumored. */
  private readonly pendingRumors = new Map<NodeId, number>();
  /** Where the next digest window starts, as an index into the sorted ids. */
  private digestCursor = 0;
  /** Where the next delta starts after a truncated one: the first member id not fully sent. */
  private deltaResumeId: NodeId = "";
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
    assert(options.self.length > 0 && options.self.length <= GOSSIP_LIMITS.nodeIdLengthMax, "self id length");
    assert(options.address.length > 0 && options.address.length <= GOSSIP_LIMITS.addressLengthMax, "address length");
    assert(Number.isSafeInteger(options.generation) && options.generation > 0, "generation is a positive integer");
    assert(Number.isInteger(options.rumorFanout) && options.rumorFanout >= 0, "rumorFanout is a count");
    this.self = options.self;
    this.address = options.address;
    this.random = random;
    this.seeds = [...new Set(options.seeds)].filter((seed) => seed !== options.address);
    this.seedSet = new Set(this.seeds);
    this.urgentKeys = new Set(options.urgentKeys);
    this.rumorFanout = options.rumorFanout;
    this.limits = {
      membersMax: options.membersMax ?? GOSSIPER_DEFAULTS.membersMax,
      rumorsPendingMax: options.rumorsPendingMax ?? GOSSIPER_DEFAULTS.rumorsPendingMax,
      digestsPerMessageMax: options.digestsPerMessageMax ?? GOSSIPER_DEFAULTS.digestsPerMessageMax,
      deltasPerMessageMax: options.deltasPerMessageMax ?? GOSSIPER_DEFAULTS.deltasPerMessageMax,
      deltaBytesPerMessageMax: options.deltaBytesPerMessageMax ?? GOSSIPER_DEFAULTS.deltaBytesPerMessageMax,
      appStatesPerEndpointMax: options.appStatesPerEndpointMax ?? GOSSIPER_DEFAULTS.appStatesPerEndpointMax,
    };
    const l = this.limits;
    assert(l.membersMax >= 1, "membersMax counts this node");
    assert(l.rumorsPendingMax >= 1, "rumorsPendingMax is positive");
    assert(l.digestsPerMessageMax >= 1 && l.digestsPerMessageMax <= GOSSIP_LIMITS.digestsPerMessageMax, "digestsPerMessageMax within the wire bound");
    assert(l.deltasPerMessageMax >= 1 && l.deltasPerMessageMax <= GOSSIP_LIMITS.deltasPerMessageMax, "deltasPerMessageMax within the wire bound");
    assert(l.deltaBytesPerMessageMax >= 1 && l.deltaBytesPerMessageMax <= GOSSIP_LIMITS.deltaBytesPerMessageMax, "deltaBytesPerMessageMax within the wire bound");
    assert(l.appStatesPerEndpointMax >= 1 && l.appStatesPerEndpointMax <= GOSSIP_LIMITS.appStatesPerEndpointMax, "appStatesPerEndpointMax within the wire bound");
    this.mergeOptions = { urgentKeys: this.urgentKeys, appStatesPerEndpointMax: l.appStatesPerEndpointMax };
    this.selfRecord = new EndpointRecord({ id: this.self, address: this.address, generation: options.generation });
    this.addRecord(this.selfRecord);
  }

  get stats(): GossiperStats {
    return this.counters;
  }

  /** Sets one of this node's application states; no version is spent when the value is unchanged. */
  setLocal(key: string, value: string): void {
    assert(key.length > 0 && key.length <= GOSSIP_LIMITS.keyLengthMax, () => `application state key ${key} length`);
    assert(value.length <= GOSSIP_LIMITS.valueLengthMax, () => `application state ${key} is ${value.length} characters long`);
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
    this.rehash(record);
    this.changes.push(this.selfAnnounced ? { kind: "updated", id: this.self } : { kind: "joined", id: this.self });
    this.selfAnnounced = true;
    // Before the first round the state is an introduction, spread by exchange (see the header).
    if (this.ticked && this.urgentKeys.has(key)) this.queueRumor(this.self, this.versionCounter);
  }

  /** One gossip round: a syn to the peers peer-selection.ts chooses, and any rumors waiting. */
  tick(nowMs: number, isLive: (id: NodeId) => boolean): GossipOutbound[] {
    void nowMs; // gossip needs no clock: rounds are paced by the caller.
    this.counters.rounds += 1;
    this.ticked = true;
    // Reused every round: two member-long arrays per node per round add up in a simulator.
    const live = this.liveScratch;
    const unreachable = this.unreachableScratch;
    live.length = 0;
    unreachable.length = 0;
    for (const id of this.sortedIds()) {
      if (id === this.self) continue;
      (isLive(id) ? live : unreachable).push(id);
    }
    const choice = choosePeers(
      { live, unreachable, seeds: this.seeds, seedId: (seed) => this.seedIds.get(seed) },
      this.random,
    );
    const syn: GossipMessage = { kind: "gossip-syn", from: this.self, fromAddress: this.address, summary: this.summary() };
    const out: GossipOutbound[] = [];
    for (const id of [choice.live, choice.unreachable]) {
      const record = id === null ? undefined : this.endpoints.get(id);
      if (record !== undefined) out.push({ to: record.id, address: record.address, message: syn });
    }
    const seed = choice.seed;
    if (seed !== null && seed.id !== this.self && !out.some((o) => o.to !== null && o.to === seed.id)) {
      out.push({ to: seed.id, address: seed.address, message: syn });
    }
    out.push(...this.flushRumors(isLive, null));
    this.counters.messagesSent += out.length;
    return out;
  }

  /** A validated gossip message arrived; returns the replies and any rumors it set off. */
  receive(message: GossipMessage, nowMs: number, isLive: (id: NodeId) => boolean): GossipOutbound[] {
    void nowMs;
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
        if (message.summary !== this.summary()) replyTo(this.digestsFor(message.from));
        break;
      case "gossip-digests": {
        const ack = this.ackFor(message);
        if (ack.deltas.length > 0 || ack.requests.length > 0) replyTo(ack);
        break;
      }
      case "gossip-ack": {
        this.applyDeltas(message.deltas);
        const deltas = this.answerRequests(message.requests, message.from);
        if (deltas.length > 0) replyTo({ kind: "gossip-ack2", from: this.self, fromAddress: this.address, deltas });
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

  /** A live, read-only view of a member's state (this node's own included); do not keep it across calls. */
  endpoint(id: NodeId): EndpointState | undefined {
    return this.endpoints.get(id);
  }

  /** Every known member id, this node's included, in string order. */
  knownIds(): NodeId[] {
    return [...this.sortedIds()];
  }

  /** The 64-bit summary of every digest held, as sent in gossip-syn (16 hex digits). */
  summary(): string {
    return this.summaryHash.toString();
  }

  /**
   * Drops a member (e.g. one that left). Like Cassandra without its quarantine, a member still held by
   * others comes back with their next delta, so the caller should forget it on every node.
   */
  forget(id: NodeId): boolean {
    assert(id !== this.self, "a node cannot forget itself");
    const record = this.endpoints.get(id);
    if (record === undefined) return false;
    this.endpoints.delete(id);
    this.summaryHash.remove(record.hash);
    const index = this.ids.indexOf(id);
    assert(index >= 0, "ids holds every known member");
    this.ids.splice(index, 1);
    if (this.seedIds.get(record.address) === id) this.seedIds.delete(record.address);
    this.pendingRumors.delete(id);
    this.changes.push({ kind: "forgotten", id });
    return true;
  }

  // --- exchange ------------------------------------------------------------------------------

  /** The digests a syn's sender gets: every member, or a rotating window of them. */
  private digestsFor(requester: NodeId): GossipDigests {
    const sorted = this.sortedIds();
    const count = sorted.length;
    const windowMax = this.limits.digestsPerMessageMax;
    const complete = count <= windowMax;
    const ids: NodeId[] = [];
    if (complete) {
      ids.push(...sorted);
    } else {
      const start = this.digestCursor % count;
      for (let i = 0; i < windowMax; i++) ids.push(sorted[(start + i) % count] as NodeId);
      this.digestCursor = (start + windowMax) % count;
    }
    const digests = ids.map((id) => this.recordOf(id).digest());
    return {
      kind: "gossip-digests",
      from: this.self,
      fromAddress: this.address,
      digests,
      complete,
      requester: this.endpoints.get(requester)?.digest() ?? null,
    };
  }

  /** Cassandra's examineGossiper: what the digests' sender lacks (deltas) and what we lack (requests). */
  private ackFor(message: GossipDigests): GossipAck {
    const candidates: DeltaCandidate[] = [];
    const requests: DigestRequest[] = [];
    const listed = new Set<NodeId>();
    for (const digest of message.digests) {
      listed.add(digest.id);
      if (digest.id === this.self) continue; // judged from `requester` below
      const local = this.endpoints.get(digest.id);
      switch (compareDigest(local, digest)) {
        case "request":
          if (local === undefined && this.endpoints.size + requests.length >= this.limits.membersMax) break;
          requests.push(local?.digest() ?? { id: digest.id, generation: 0, maxVersion: 0 });
          break;
        case "send":
          // The sender is the authority on its own state; anything else it lacks, it gets.
          if (local !== undefined && digest.id !== message.from) {
            candidates.push(this.candidate(local, local.generation === digest.generation ? digest.maxVersion : 0));
          }
          break;
        case "none":
          break;
      }
    }
    const mine = message.requester;
    if (mine === null || compareDigest(this.selfRecord, mine) === "send") {
      const from = mine !== null && mine.generation === this.selfRecord.generation ? mine.maxVersion : 0;
      candidates.push(this.candidate(this.selfRecord, from));
    }
    // Members the sender did not list although its window covered them: it does not know them.
    const first = message.digests[0]?.id;
    const last = message.digests[message.digests.length - 1]?.id;
    if (first !== undefined && last !== undefined) {
      for (const id of this.ids) {
        if (id === this.self || id === message.from || listed.has(id)) continue;
        if (message.complete || inCyclicRange(id, first, last)) candidates.push(this.candidate(this.recordOf(id), 0));
      }
    }
    return {
      kind: "gossip-ack",
      from: this.self,
      fromAddress: this.address,
      deltas: this.cutDeltas(candidates),
      requests,
    };
  }

  private answerRequests(requests: readonly DigestRequest[], requester: NodeId): Delta[] {
    const candidates: DeltaCandidate[] = [];
    for (const request of requests) {
      if (request.id === requester) continue;
      const record = this.endpoints.get(request.id);
      if (record === undefined) continue;
      if (record.generation > request.generation) {
        candidates.push(this.candidate(record, 0));
      } else if (record.generation === request.generation && record.hasStatesAbove(request.maxVersion)) {
        candidates.push(this.candidate(record, request.maxVersion));
      }
    }
    return this.cutDeltas(candidates);
  }

  private candidate(record: EndpointRecord, fromVersion: number): DeltaCandidate {
    return { record, fromVersion, throughVersion: Math.max(fromVersion, record.maxVersion) };
  }

  /**
   * Cuts deltas for the candidates within one message's budget, in id order starting where the last
   * truncated message stopped, so that a member far down the order is reached in later rounds.
   */
  private cutDeltas(candidates: DeltaCandidate[]): Delta[] {
    if (candidates.length === 0) return [];
    candidates.sort((x, y) => (x.record.id < y.record.id ? -1 : x.record.id > y.record.id ? 1 : 0));
    let start = candidates.findIndex((c) => c.record.id >= this.deltaResumeId);
    if (start < 0) start = 0;
    const deltas: Delta[] = [];
    let bytes = 0;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(start + i) % candidates.length] as DeltaCandidate;
      if (deltas.length >= this.limits.deltasPerMessageMax) {
        this.deltaResumeId = c.record.id;
        break;
      }
      const claim = { fromVersion: c.fromVersion, throughVersion: c.throughVersion };
      let cut = cutDelta(c.record, claim, this.limits.deltaBytesPerMessageMax - bytes);
      if (cut === null && deltas.length === 0) {
        // Progress over the configured budget: one state always fits the wire bound.
        cut = cutDelta(c.record, claim, GOSSIP_LIMITS.deltaBytesPerMessageMax);
        assert(cut !== null, "one entry with one state fits deltaBytesPerMessageMax");
      }
      if (cut === null) {
        this.deltaResumeId = c.record.id;
        break;
      }
      deltas.push(cut.delta);
      bytes += cut.bytes;
      if (cut.truncated) {
        this.deltaResumeId = c.record.id;
        break;
      }
    }
    return deltas;
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
    let record = this.endpoints.get(delta.id);
    const knewBefore = record !== undefined;
    let fresh = false;
    if (record === undefined || delta.generation > record.generation) {
      // A member's state can only start from its beginning; a partial one waits for the exchange.
      if (delta.fromVersion !== 0) {
        this.counters.deltasIgnored += 1;
        return;
      }
      if (record === undefined && this.endpoints.size >= this.limits.membersMax) {
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
        this.addRecord(next);
        this.changes.push({ kind: "joined", id: delta.id });
      } else {
        this.replaceRecord(record, next);
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
    this.rehash(record);
    if (!fresh && result.changed) this.changes.push({ kind: "updated", id: delta.id });
    if (knewBefore && result.urgentVersionMin !== null) this.queueRumor(delta.id, result.urgentVersionMin);
  }

  // --- rumors --------------------------------------------------------------------------------

  private queueRumor(id: NodeId, version: number): void {
    const pending = this.pendingRumors.get(id);
    if (pending !== undefined) {
      this.pendingRumors.set(id, Math.min(pending, version));
    } else if (this.pendingRumors.size >= this.limits.rumorsPendingMax) {
      this.counters.rumorsDropped += 1;
    } else {
      this.pendingRumors.set(id, version);
    }
  }

  /**
   * Sends every pending rumor to `rumorFanout` random live members (not `exclude`, who told us). With no
   * live member to tell, rumors wait. A rumor of member X from version u claims (u-1, maxVersion] when
   * we hold X completely that far, else just its oldest state at or above u, which is a claim of its own.
   */
  private flushRumors(isLive: (id: NodeId) => boolean, exclude: NodeId | null): GossipOutbound[] {
    if (this.pendingRumors.size === 0 || this.rumorFanout === 0) return [];
    const subjects = [...this.pendingRumors.keys()];
    const onlySubject = subjects.length === 1 ? subjects[0] : undefined;
    const targets = pickRumorTargets(
      {
        members: this.ids,
        count: this.rumorFanout,
        eligible: (id) => id !== this.self && id !== exclude && id !== onlySubject && isLive(id),
      },
      this.random,
    );
    if (targets.length === 0) return [];

    const messages: Delta[][] = [];
    let current: Delta[] = [];
    let bytes = 0;
    for (const [id, version] of this.pendingRumors) {
      const record = this.endpoints.get(id);
      if (record === undefined) continue;
      let claim: { fromVersion: number; throughVersion: number };
      if (record.maxVersion >= version) {
        claim = { fromVersion: version - 1, throughVersion: record.maxVersion };
      } else {
        const oldest = record.oldestStateFrom(version);
        if (oldest === undefined) continue;
        claim = { fromVersion: oldest.version - 1, throughVersion: oldest.version };
      }
      let cut = current.length < this.limits.deltasPerMessageMax
        ? cutDelta(record, claim, this.limits.deltaBytesPerMessageMax - bytes)
        : null;
      if (cut === null && current.length > 0) {
        messages.push(current);
        current = [];
        bytes = 0;
        cut = cutDelta(record, claim, this.limits.deltaBytesPerMessageMax);
      }
      if (cut === null) cut = cutDelta(record, claim, GOSSIP_LIMITS.deltaBytesPerMessageMax);
      assert(cut !== null, "one entry with one state fits deltaBytesPerMessageMax");
      current.push(cut.delta);
      bytes += cut.bytes;
    }
    if (current.length > 0) messages.push(current);
    this.pendingRumors.clear();

    const out: GossipOutbound[] = [];
    for (const deltas of messages) {
      const rumor: GossipRumor = { kind: "gossip-rumor", from: this.self, fromAddress: this.address, deltas };
      for (const target of targets) out.push({ to: target, address: this.recordOf(target).address, message: rumor });
    }
    this.counters.rumorsSent += out.length;
    return out;
  }

  // --- bookkeeping ---------------------------------------------------------------------------

  private recordOf(id: NodeId): EndpointRecord {
    const record = this.endpoints.get(id);
    assert(record !== undefined, () => `no endpoint state for ${id}`);
    return record;
  }

  /** The ids in string order, the same on every node: digest windows are ranges of it. */
  private sortedIds(): readonly NodeId[] {
    if (!this.idsSorted) {
      this.ids.sort();
      this.idsSorted = true;
    }
    return this.ids;
  }

  private addRecord(record: EndpointRecord): void {
    assert(!this.endpoints.has(record.id), "a member is added once");
    this.endpoints.set(record.id, record);
    this.ids.push(record.id);
    this.idsSorted = false;
    if (this.seedSet.has(record.address)) this.seedIds.set(record.address, record.id);
    this.summaryHash.add(record.hash);
  }

  private replaceRecord(old: EndpointRecord, next: EndpointRecord): void {
    assert(old.id === next.id && next.generation > old.generation, "a restart replaces with a newer generation");
    this.summaryHash.remove(old.hash);
    if (this.seedIds.get(old.address) === old.id) this.seedIds.delete(old.address);
    this.endpoints.set(next.id, next);
    if (this.seedSet.has(next.address)) this.seedIds.set(next.address, next.id);
    this.summaryHash.add(next.hash);
  }

  /** Keeps the summary equal to the sum over current digests after a record's digest may have moved. */
  private rehash(record: EndpointRecord): void {
    const moved = record.rehash();
    if (moved === null) return;
    this.summaryHash.remove(moved.before);
    this.summaryHash.add(moved.after);
  }
}
