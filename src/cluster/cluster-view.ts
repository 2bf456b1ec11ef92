// cluster/cluster-view.ts — one node's view of the cluster: gossip + failure detector + ring.
//
// Theory of operation. Three pure engines are composed here and nothing else is added but
// bookkeeping:
//
// - Gossip (gossip/gossiper.ts) spreads each member's endpoint state: its generation and the
//   application states this view publishes for it — `status`, `tokens`, `load`, `incarnation` and
//   `votes`. Only real changes bump a version, so two nodes that agree exchange one summary hash.
// - Liveness does not come from gossip. Every tick each member sends a direct heartbeat to its
//   monitors: the `monitorsPerMember` successors of its id on a hash ring of all members that have
//   not left (detector/monitors.ts), so monitor sets do not churn when someone dies. For a short
//   grace after its monitor set changes, a member keeps heartbeating its previous monitors too, so a
//   monitor that has not yet learned of the change does not convict it. Each monitor runs a
//   phi-accrual detector per subject (detector/failure-detector.ts) and publishes its convictions
//   ("votes", with their evidence: phi, samples, silence) in its own endpoint state, which gossip
//   pushes eagerly (urgent keys) so every node hears within a few network hops.
// - Every node applies the same verdict rule to the gossiped votes (detector/verdict.ts): a member
//   is down when enough of its monitors convict its current generation and incarnation. A live member
//   that sees itself convicted refutes by bumping its incarnation, SWIM-style, which voids the votes;
//   its monitors also acquit it on its next heartbeat. A member is live until convicted.
// - The ring (ring/token-map.ts) is built from the tokens of members in state `normal`, lazily: a
//   change that can move it (a normal member's tokens, or a member entering or leaving `normal`) marks
//   it stale and emits `tokens-changed` once per batch of changes; the next ring() call rebuilds it.
//   Token lists stay as gossiped text (validated by shape) until a rebuild parses them, once per list.
//   A thousand views in one simulator process would otherwise sort every ring on every gossip message.
// - Ring changes (topology/). The current ring holds members in `normal` and `leaving` (a leaving
//   member still serves its ranges until it has streamed them away, as in Cassandra's TokenMetadata);
//   the future ring holds `normal` and `joining` members that have announced tokens, less the leaving
//   ones. Writes also go to replicas that are in the future ring's replica set but not the current one
//   (pending replicas). A member that is dead for good is removed by another member (removenode): the
//   remover publishes `removals` in its own state — [id, generation, "removing" | "removed"] — since a
//   member's own state can only be written by that member. Every view applies the same rule: a member
//   being removed counts as leaving, a removed one as left and is no longer shown. A joining member
//   without tokens is waiting for its turn to join and is not a ring change.
//
// Everything is driven by tick(nowMs) and receive(message, nowMs); the view never reads a clock or
// a global random source, so the simulator runs the same code under virtual time.

import { assert } from "../core/assert.js";
import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import { MEMBER_STATUSES } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { FailureDetector, type SubjectRef, type Vote } from "../detector/failure-detector.js";
import { MonitorRing } from "../detector/monitors.js";
import { isConvicted, shouldRefute, VOTES_REQUIRED_DEFAULT } from "../detector/verdict.js";
import { hashId, Summary, type IdHash } from "../gossip/digest.js";
import type { GossipChange, GossipOutbound } from "../gossip/gossiper.js";
import { Gossiper } from "../gossip/gossiper.js";
import { tokenFromString, tokenToString, type Token } from "../ring/partitioner.js";
import { TokenMap } from "../ring/token-map.js";
import type {
  ClusterEngineOptions,
  ClusterEvent,
  ClusterStats,
  MembershipEntry,
  MemberView,
  Outbound,
  RingChange,
  TopologyEngine,
} from "./engine.js";
import type { HeartbeatMessage, PeerMessage } from "./peer-messages.js";

/** Tunables of the composition; the protocol engines keep their own. */
export const CLUSTER_VIEW_DEFAULTS = {
  /** Monitors per member (k). Five gives votes from independent links while heartbeats stay cheap. */
  monitorsPerMember: 5,
  /** Heartbeats per gossip round: a 500 ms heartbeat at the default 1 s round detects faster. */
  heartbeatsPerGossipRound: 2,
  /** How long a member keeps heartbeating monitors it no longer has: longer than gossip takes to converge. */
  previousMonitorGraceMs: 30_000,
  /** Peers an urgent change (a vote, a refutation, a status) is pushed to at once, per hop. */
  rumorFanout: 4,
  /** Load is published at most this often, so `load` does not keep every summary hash moving. */
  loadPublishIntervalMs: 10_000,
  /** ...and only when it moved by at least this fraction. */
  loadChangeRatioMin: 0.05,
  /** Tokens per member accepted from gossip; more is a malformed state, ignored and counted. */
  tokensPerMemberMax: 1024,
  /** Votes one monitor may publish; a monitor has about `monitorsPerMember` subjects. */
  votesPerMemberMax: 256,
} as const;

const KEY_STATUS = "status";
const KEY_TOKENS = "tokens";
const KEY_LOAD = "load";
const KEY_VOTES = "votes";
const KEY_INCARNATION = "incarnation";
const KEY_REMOVALS = "removals";
const URGENT_KEYS = [KEY_STATUS, KEY_VOTES, KEY_INCARNATION, KEY_REMOVALS, KEY_TOKENS];
/** Removals one member may publish; a removal lasts one ring change, so a handful at most. */
const REMOVALS_PER_MEMBER_MAX = 64;

/** A removal published by a member: the target member's id and generation, and how far it got. */
export interface Removal {
  readonly id: NodeId;
  readonly generation: number;
  readonly phase: "removing" | "removed";
}
/** Characters per token in the gossiped list: 16 hex digits and a comma. */
const TOKEN_TEXT_STRIDE = 17;
const TOKEN_LIST_PATTERN = /^[0-9a-f]{16}(?:,[0-9a-f]{16})*$/;

interface MemberRecord {
  id: NodeId;
  address: Address;
  generation: number;
  /** The status this view acts on: the gossiped one, overridden by a removal of this member. */
  status: MemberStatus;
  /** The status the member itself gossips. */
  gossipStatus: MemberStatus;
  /** Removed by another member (removenode): not shown, not in any ring. */
  removed: boolean;
  /** Removals this member publishes, and the text they were read from. */
  removals: readonly Removal[];
  removalsText: string;
  /** The gossiped token list, checked to be well-formed; parsed on the next ring rebuild. */
  tokensText: string;
  tokenCount: number;
  incarnation: number;
  /** Votes this member holds as a monitor, by subject, and the gossiped text they were read from. */
  votes: ReadonlyMap<NodeId, Vote>;
  votesText: string;
  load: { keys: number; bytes: number } | null;
}

export class ClusterView implements TopologyEngine {
  readonly tickIntervalMs: number;
  private readonly options: ClusterEngineOptions;
  private readonly gossiper: Gossiper;
  private readonly detector: FailureDetector;
  private readonly records = new Map<NodeId, MemberRecord>();
  /** False until the first tick or message: the detector must not start a silence clock at a made-up time. */
  private started = false;
  private readonly down = new Set<NodeId>();
  /** Members holding at least one vote: verdicts only ever need to look at these. */
  private readonly voters = new Set<NodeId>();
  private events: ClusterEvent[] = [];
  private monitorRing: MonitorRing;
  private monitorRingDirty = true;
  private livenessDirty = true;
  /** The down set changed: take-over monitors (effectiveMonitors) may differ; recomputed at the next tick. */
  private takeoverDirty = false;
  private ringDirty = true;
  /** The ring, or null when a change made it stale; ring() rebuilds it. */
  private tokenMap: TokenMap | null = TokenMap.empty;
  /** The ring once every ring change in progress completes, or null when stale. */
  private futureTokenMap: TokenMap | null = TokenMap.empty;
  /** Every member's removals, by target: the latest phase wins ("removed" over "removing"). */
  private removalsByTarget = new Map<NodeId, Removal>();
  private localRemovals: Removal[] = [];
  private ownershipCache: Map<NodeId, number> | null = new Map();
  /** An order-independent hash of (owner, tokens) over the ring's owners, kept as they change. */
  private readonly ringSummary = new Summary();
  private readonly ownerHashes = new Map<NodeId, IdHash>();
  /** Parsed token lists by member, valid while the member's tokensText is the same string. */
  private readonly parsedTokens = new Map<NodeId, { text: string; tokens: readonly Token[] }>();
  private incarnation = 0;
  private heartbeatSequence = 0;
  private ticks = 0;
  /** The latest time a driver gave us, for changes made between calls (setStatus). */
  private lastNowMs = 0;
  private currentMonitors: NodeId[] = [];
  private readonly previousMonitors = new Map<NodeId, number>(); // monitor → heartbeat it until (ms)
  private pendingLoad: { keys: number; bytes: number } | null = null;
  private publishedLoad: { keys: number; bytes: number } | null = null;
  private lastLoadPublishMs = Number.NEGATIVE_INFINITY;
  private counters = { heartbeatsSent: 0, heartbeatsReceived: 0, malformedStates: 0 };

  constructor(options: ClusterEngineOptions, random: Random) {
    assert(options.gossipIntervalMs > 0, "gossipIntervalMs must be positive");
    // A joining node may start without tokens: it picks them once it has seen the ring (topology/bootstrap).
    assert(options.tokens.length > 0 || options.status === "joining", "a member needs at least one token");
    this.options = options;
    this.tickIntervalMs = options.gossipIntervalMs / CLUSTER_VIEW_DEFAULTS.heartbeatsPerGossipRound;
    this.gossiper = new Gossiper(
      {
        self: options.id,
        address: options.address,
        generation: options.generation,
        seeds: options.seeds.filter((seed) => seed !== options.address),
        urgentKeys: URGENT_KEYS,
        rumorFanout: CLUSTER_VIEW_DEFAULTS.rumorFanout,
      },
      random,
    );
    this.detector = new FailureDetector({
      phiThreshold: options.phiThreshold,
      tickIntervalMs: this.tickIntervalMs,
    });
    this.gossiper.setLocal(KEY_STATUS, options.status);
    this.gossiper.setLocal(KEY_TOKENS, options.tokens.map(tokenToString).join(","));
    this.gossiper.setLocal(KEY_INCARNATION, "0");
    this.gossiper.setLocal(KEY_VOTES, "[]");
    this.gossiper.setLocal(KEY_REMOVALS, "[]");
    this.monitorRing = new MonitorRing([options.id]);
    this.absorbGossipChanges(null);
  }

  tick(nowMs: number): Outbound[] {
    this.lastNowMs = nowMs;
    this.started = true;
    this.ticks += 1;
    const out: Outbound[] = [];
    this.absorbDetector(this.detector.evaluate(nowMs));
    this.maybePublishLoad(nowMs);
    this.refreshStructure(nowMs, true);
    out.push(...this.heartbeats(nowMs));
    if ((this.ticks - 1) % CLUSTER_VIEW_DEFAULTS.heartbeatsPerGossipRound === 0) {
      out.push(...this.fromGossip(this.gossiper.tick(nowMs, this.isLiveForGossip)));
    }
    this.absorbGossipChanges(nowMs);
    return out;
  }

  receive(message: PeerMessage, nowMs: number): Outbound[] {
    this.lastNowMs = nowMs;
    this.started = true;
    if (message.kind === "heartbeat") {
      this.counters.heartbeatsReceived += 1;
      this.detector.heartbeat(message.from, message.generation, message.incarnation, message.sequence, nowMs);
      // An acquittal should not wait for the next tick: "live again on its next heartbeat".
      this.absorbDetector(this.detector.evaluate(nowMs));
      this.absorbGossipChanges(nowMs);
      // A changed vote goes out with the next tick's exchange (at most one tick later).
      return [];
    }
    const replies = this.fromGossip(this.gossiper.receive(message, nowMs, this.isLiveForGossip));
    this.absorbGossipChanges(nowMs);
    return replies;
  }

  takeEvents(): ClusterEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  setLoad(load: { keys: number; bytes: number }): void {
    assert(load.keys >= 0 && load.bytes >= 0, "load cannot be negative");
    this.pendingLoad = { keys: Math.round(load.keys), bytes: Math.round(load.bytes) };
  }

  setStatus(status: MemberStatus): void {
    this.gossiper.setLocal(KEY_STATUS, status);
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /** Announces this node's tokens (a joining node, once it has chosen them; [] to withdraw them). */
  setTokens(tokens: readonly bigint[]): void {
    this.gossiper.setLocal(KEY_TOKENS, tokens.map(tokenToString).join(","));
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /** Publishes (or advances) the removal of a dead member; this node drives it (topology/remove-node). */
  announceRemoval(id: NodeId, phase: Removal["phase"]): void {
    const member = this.records.get(id);
    assert(member !== undefined, () => `cannot remove unknown member ${id}`);
    assert(id !== this.options.id, "a node cannot remove itself");
    this.localRemovals = [
      ...this.localRemovals.filter((removal) => removal.id !== id),
      { id, generation: member.generation, phase },
    ].slice(-REMOVALS_PER_MEMBER_MAX);
    this.gossiper.setLocal(KEY_REMOVALS, JSON.stringify(this.localRemovals.map((r) => [r.id, r.generation, r.phase])));
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /** The ring once the ring changes in progress complete: normal and joining members, less leaving ones. */
  futureRing(): TokenMap {
    if (this.futureTokenMap === null) {
      const built = this.buildRing(isFutureOwner);
      // The same object as the current ring when nothing is changing: the coordinator's cheap test.
      const current = this.ring();
      this.futureTokenMap = built.equals(current) ? current : built;
    }
    return this.futureTokenMap;
  }

  /** Ring changes in progress as this view sees them, by member id. */
  ringChanges(): RingChange[] {
    const changes: RingChange[] = [];
    for (const member of this.records.values()) {
      if (member.removed || member.status === "left") continue;
      const removal = this.removalsByTarget.get(member.id);
      if (removal !== undefined && removal.generation === member.generation && removal.phase === "removing") {
        changes.push({ kind: "removenode", id: member.id });
      } else if (member.status === "leaving") {
        changes.push({ kind: "decommission", id: member.id });
      } else if (member.status === "joining" && member.tokenCount > 0) {
        changes.push({ kind: "bootstrap", id: member.id });
      }
    }
    return changes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Members in state joining that have not announced tokens yet: nodes waiting for their turn. */
  waitingToJoin(): NodeId[] {
    const waiting: NodeId[] = [];
    for (const member of this.records.values()) {
      if (!member.removed && member.status === "joining" && member.tokenCount === 0) waiting.push(member.id);
    }
    return waiting.sort();
  }

  /** Whether a member was removed from the cluster (removenode) in this view. */
  isRemoved(id: NodeId): boolean {
    return this.records.get(id)?.removed === true;
  }

  ringFingerprint(): string {
    return `${this.ownerHashes.size}:${this.ringSummary.toString()}`;
  }

  membership(): MembershipEntry[] {
    const entries: MembershipEntry[] = [];
    for (const member of this.records.values()) {
      if (member.removed) continue;
      entries.push({ id: member.id, generation: member.generation, status: member.status, live: this.isLive(member.id) });
    }
    return entries;
  }

  isLive(id: NodeId): boolean {
    if (id === this.options.id) return true;
    const member = this.records.get(id);
    // A member that left is gone even though nobody convicts it (left members are not monitored).
    return member !== undefined && !member.removed && member.status !== "left" && !this.down.has(id);
  }

  ring(): TokenMap {
    if (this.tokenMap === null) this.tokenMap = this.buildRing(isOwner);
    return this.tokenMap;
  }

  members(nowMs: number): MemberView[] {
    const views: MemberView[] = [];
    for (const id of [...this.records.keys()].sort()) {
      const view = this.member(id, nowMs);
      if (view !== undefined) views.push(view);
    }
    return views;
  }

  /** One member as members() shows it, without walking the others. */
  member(id: NodeId, nowMs: number): MemberView | undefined {
    const member = this.records.get(id);
    if (member === undefined || member.removed) return undefined;
    const self = id === this.options.id;
    return {
      id,
      address: member.address,
      status: member.status,
      live: this.isLive(id),
      phi: self ? null : this.detector.phi(id, nowMs),
      generation: member.generation,
      heartbeat: self ? this.heartbeatSequence : (this.detector.lastSequence(id) ?? this.gossiper.endpoint(id)?.maxVersion ?? 0),
      tokens: member.tokenCount,
      ownership: this.ownership().get(id) ?? 0,
      keys: member.load?.keys ?? null,
      bytes: member.load?.bytes ?? null,
    };
  }


  stats(): ClusterStats {
    const gossip = this.gossiper.stats;
    return {
      gossipRounds: gossip.rounds,
      messagesSent: gossip.messagesSent + this.counters.heartbeatsSent,
      messagesReceived: gossip.messagesReceived + this.counters.heartbeatsReceived,
      messagesRefused: this.counters.malformedStates,
    };
  }

  // ---------------------------------------------------------------------------------------------

  private readonly isLiveForGossip = (id: NodeId): boolean => !this.down.has(id);

  private fromGossip(outbounds: readonly GossipOutbound[]): Outbound[] {
    return outbounds.map((o) => ({ to: o.to, address: o.address, message: o.message }));
  }

  /** Votes cast or withdrawn by this node's detector become its `votes` state, pushed eagerly. */
  private absorbDetector(changes: { convicted: readonly Vote[]; acquitted: readonly NodeId[] }): void {
    if (changes.convicted.length === 0 && changes.acquitted.length === 0) return;
    const votes = this.detector.votes().slice(0, CLUSTER_VIEW_DEFAULTS.votesPerMemberMax);
    this.gossiper.setLocal(KEY_VOTES, JSON.stringify(votes));
  }

  private maybePublishLoad(nowMs: number): void {
    const load = this.pendingLoad;
    if (load === null) return;
    if (nowMs - this.lastLoadPublishMs < CLUSTER_VIEW_DEFAULTS.loadPublishIntervalMs) return;
    const before = this.publishedLoad;
    const moved =
      before === null ||
      relativeChange(before.keys, load.keys) >= CLUSTER_VIEW_DEFAULTS.loadChangeRatioMin ||
      relativeChange(before.bytes, load.bytes) >= CLUSTER_VIEW_DEFAULTS.loadChangeRatioMin;
    if (!moved) return;
    this.publishedLoad = load;
    this.lastLoadPublishMs = nowMs;
    this.gossiper.setLocal(KEY_LOAD, `${load.keys},${load.bytes}`);
  }

  private heartbeats(nowMs: number): Outbound[] {
    this.heartbeatSequence += 1;
    for (const [monitor, untilMs] of this.previousMonitors) {
      if (untilMs <= nowMs || this.currentMonitors.includes(monitor)) this.previousMonitors.delete(monitor);
    }
    const targets = new Set<NodeId>([...this.currentMonitors, ...this.previousMonitors.keys()]);
    const out: Outbound[] = [];
    for (const monitor of targets) {
      const member = this.records.get(monitor);
      if (member === undefined || member.status === "left") continue;
      const message: HeartbeatMessage = {
        kind: "heartbeat",
        from: this.options.id,
        generation: this.options.generation,
        incarnation: this.incarnation,
        sequence: this.heartbeatSequence,
      };
      out.push({ to: monitor, address: member.address, message });
    }
    this.counters.heartbeatsSent += out.length;
    return out;
  }

  /** Reads what gossip changed into the member records and turns it into events. */
  private absorbGossipChanges(nowMs: number | null): void {
    const changes: GossipChange[] = this.gossiper.takeChanges();
    for (const change of changes) {
      switch (change.kind) {
        case "joined":
          this.readMember(change.id, true);
          if (change.id !== this.options.id) this.events.push({ kind: "member-joined", id: change.id });
          break;
        case "restarted":
          this.readMember(change.id, true);
          this.events.push({ kind: "member-restarted", id: change.id, generation: change.generation });
          break;
        case "updated":
          this.readMember(change.id, false);
          break;
        case "forgotten":
          if (this.records.delete(change.id)) {
            this.down.delete(change.id);
            this.voters.delete(change.id);
            this.setOwnerHash(change.id, null);
            this.monitorRingDirty = true;
            this.livenessDirty = true;
            this.ringDirty = true;
            this.events.push({ kind: "member-removed", id: change.id });
          }
          break;
      }
    }
    if (nowMs !== null) this.refreshStructure(nowMs, false);
  }

  /** (Re)reads one member's record from its endpoint state. */
  private readMember(id: NodeId, fresh: boolean): void {
    const endpoint = this.gossiper.endpoint(id);
    if (endpoint === undefined) return;
    const before = fresh ? undefined : this.records.get(id);
    const previous = this.records.get(id);
    const gossipStatus = parseStatus(endpoint.appStates.get(KEY_STATUS)?.value) ?? previous?.gossipStatus ?? "joining";
    const removalsText = endpoint.appStates.get(KEY_REMOVALS)?.value ?? "[]";
    const removals = previous !== undefined && previous.removalsText === removalsText ? previous.removals : this.parseRemovals(removalsText);
    const { status, removed } = this.effectiveStatus(id, endpoint.generation, gossipStatus);
    const tokensText = this.checkTokens(endpoint.appStates.get(KEY_TOKENS)?.value) ?? previous?.tokensText ?? "";
    const incarnation = parseCount(endpoint.appStates.get(KEY_INCARNATION)?.value) ?? 0;
    const votesText = endpoint.appStates.get(KEY_VOTES)?.value ?? "[]";
    const votes = previous !== undefined && previous.votesText === votesText ? previous.votes : this.parseVotes(votesText);
    const load = parseLoad(endpoint.appStates.get(KEY_LOAD)?.value);
    const record: MemberRecord = {
      id,
      address: endpoint.address,
      generation: endpoint.generation,
      status,
      gossipStatus,
      removed,
      removals,
      removalsText,
      tokensText,
      tokenCount: tokensText === "" ? 0 : (tokensText.length + 1) / TOKEN_TEXT_STRIDE,
      incarnation,
      votes,
      votesText,
      load,
    };
    this.records.set(id, record);
    if (votes.size > 0) this.voters.add(id);
    else this.voters.delete(id);
    if (id === this.options.id) this.incarnation = Math.max(this.incarnation, incarnation);

    this.noteRingEffects(previous, record);
    if (
      previous === undefined ||
      previous.incarnation !== incarnation ||
      previous.generation !== endpoint.generation ||
      previous.votes !== votes
    ) {
      this.livenessDirty = true;
    }
    if (before !== undefined && previous !== undefined && previous.status !== status) {
      this.events.push({ kind: "status-changed", id, status });
    }
    if (previous?.removalsText !== removalsText && (removals.length > 0 || (previous?.removals.length ?? 0) > 0)) {
      this.refreshRemovals();
    }
  }

  /** What a member's change does to the monitor ring and to the current and future rings. */
  private noteRingEffects(previous: MemberRecord | undefined, record: MemberRecord): void {
    const leftChanged = previous === undefined || isGone(previous) !== isGone(record);
    if (leftChanged || previous?.generation !== record.generation) this.monitorRingDirty = true;
    const tokensChanged = previous?.tokensText !== record.tokensText;
    const wasOwner = previous !== undefined && isOwner(previous);
    const nowOwner = isOwner(record);
    if ((wasOwner || nowOwner) && (wasOwner !== nowOwner || tokensChanged)) {
      this.ringDirty = true;
      this.setOwnerHash(record.id, nowOwner ? record.tokensText : null);
    }
    const wasFuture = previous !== undefined && isFutureOwner(previous);
    const nowFuture = isFutureOwner(record);
    if ((wasFuture || nowFuture) && (wasFuture !== nowFuture || tokensChanged)) this.ringDirty = true;
  }

  /** A member's status as this view acts on it: a removal published by anyone overrides its own. */
  private effectiveStatus(id: NodeId, generation: number, gossipStatus: MemberStatus): { status: MemberStatus; removed: boolean } {
    const removal = this.removalsByTarget.get(id);
    if (removal === undefined || removal.generation !== generation || gossipStatus === "left") {
      return { status: gossipStatus, removed: false };
    }
    if (removal.phase === "removed") return { status: "left", removed: true };
    // A member that never became normal (a joiner that died) owns nothing to stream: it is out at once.
    return { status: gossipStatus === "joining" ? "left" : "leaving", removed: false };
  }

  /** Some member's removals changed: re-derive every member's effective status. */
  private refreshRemovals(): void {
    const byTarget = new Map<NodeId, Removal>();
    for (const member of this.records.values()) {
      for (const removal of member.removals) {
        const known = byTarget.get(removal.id);
        if (
          known === undefined ||
          removal.generation > known.generation ||
          (removal.generation === known.generation && removal.phase === "removed")
        ) {
          byTarget.set(removal.id, removal);
        }
      }
    }
    this.removalsByTarget = byTarget;
    for (const member of [...this.records.values()]) {
      const { status, removed } = this.effectiveStatus(member.id, member.generation, member.gossipStatus);
      if (status === member.status && removed === member.removed) continue;
      const record: MemberRecord = { ...member, status, removed };
      this.records.set(member.id, record);
      this.noteRingEffects(member, record);
      this.livenessDirty = true;
      if (removed) {
        this.down.delete(member.id);
        this.events.push({ kind: "member-removed", id: member.id });
      } else {
        this.events.push({ kind: "status-changed", id: member.id, status });
      }
    }
  }

  private parseRemovals(text: string): Removal[] {
    if (text === "[]") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.counters.malformedStates += 1;
      return [];
    }
    if (!Array.isArray(parsed) || parsed.length > REMOVALS_PER_MEMBER_MAX) {
      this.counters.malformedStates += 1;
      return [];
    }
    const removals: Removal[] = [];
    for (const item of parsed as unknown[]) {
      if (
        Array.isArray(item) &&
        item.length === 3 &&
        typeof item[0] === "string" &&
        isCount(item[1]) &&
        (item[2] === "removing" || item[2] === "removed")
      ) {
        removals.push({ id: item[0], generation: item[1], phase: item[2] });
      } else {
        this.counters.malformedStates += 1;
      }
    }
    return removals;
  }

  /** Recomputes whatever the last changes made stale: monitors, ring, verdicts, refutation. */
  private refreshStructure(nowMs: number, atTick: boolean): void {
    // The monitor ring is rebuilt at most once a tick (a sort of every member): a burst of gossip
    // messages while a thousand nodes join must not rebuild it per message. Verdicts stay per message.
    if ((this.monitorRingDirty || this.takeoverDirty) && atTick) {
      if (this.monitorRingDirty) {
        const ids = [...this.records.values()].filter((m) => m.status !== "left").map((m) => m.id);
        this.monitorRing = new MonitorRing(ids);
      }
      this.monitorRingDirty = false;
      this.takeoverDirty = false;
      const monitors = this.effectiveMonitors(this.options.id);
      for (const old of this.currentMonitors) {
        if (!monitors.includes(old)) this.previousMonitors.set(old, nowMs + CLUSTER_VIEW_DEFAULTS.previousMonitorGraceMs);
      }
      this.currentMonitors = monitors;
      this.livenessDirty = true;
      this.updateSubjects(nowMs);
    } else if (this.livenessDirty) {
      this.updateSubjects(nowMs);
    }
    if (this.ringDirty) {
      this.ringDirty = false;
      this.tokenMap = null;
      this.futureTokenMap = null;
      this.ownershipCache = null;
      this.events.push({ kind: "tokens-changed" });
    }
    if (this.livenessDirty) {
      this.livenessDirty = false;
      this.recomputeLiveness();
      this.maybeRefute();
    }
  }

  /**
   * A member's monitors as this view sees them: its k ring successors, unless every one of them is down
   * here; then the first k successors that are not take over. Without this, a member whose monitors all
   * sit on the far side of a partition (about one in 2^k per half) would never be convicted on this side,
   * and one whose monitors all crashed never anywhere. The member itself makes the same choice from its
   * own view when it picks whom to heartbeat; while views differ, take-over monitors that hear nothing
   * wait the detector's longer silence for subjects never heard from.
   */
  private effectiveMonitors(id: NodeId): NodeId[] {
    const k = CLUSTER_VIEW_DEFAULTS.monitorsPerMember;
    const regular = this.monitorRing.monitorsOf(id, k);
    if (this.down.size === 0 || regular.length === 0 || regular.some((monitor) => !this.down.has(monitor))) return regular;
    return this.monitorRing.successorsOf(id, k, (monitor) => !this.down.has(monitor));
  }

  private updateSubjects(nowMs: number): void {
    const self = this.options.id;
    const k = CLUSTER_VIEW_DEFAULTS.monitorsPerMember;
    const regular = new Set(this.monitorRing.subjectsOf(self, k));
    // Members whose regular monitors are all down here, and whose take-over monitors include us.
    const takeover = new Set<NodeId>();
    for (const dead of this.down) {
      for (const orphan of this.monitorRing.subjectsOf(dead, k)) {
        if (orphan !== self && !regular.has(orphan) && this.effectiveMonitors(orphan).includes(self)) takeover.add(orphan);
      }
    }
    const subjects: SubjectRef[] = [];
    for (const id of [...regular, ...takeover]) {
      const member = this.records.get(id);
      if (member === undefined) continue;
      subjects.push({ id, generation: member.generation, incarnation: member.incarnation, takeover: takeover.has(id) });
    }
    this.detector.setSubjects(subjects, nowMs);
  }

  private setOwnerHash(id: NodeId, tokensText: string | null): void {
    const before = this.ownerHashes.get(id);
    if (before !== undefined) this.ringSummary.remove(before);
    if (tokensText === null || tokensText === "") {
      this.ownerHashes.delete(id);
      return;
    }
    const hash = hashId(`${id}\u0000${tokensText}`);
    this.ownerHashes.set(id, hash);
    this.ringSummary.add(hash);
  }

  private buildRing(include: (member: MemberRecord) => boolean): TokenMap {
    const owners = new Map<NodeId, readonly Token[]>();
    for (const member of this.records.values()) {
      if (!include(member)) continue;
      let parsed = this.parsedTokens.get(member.id);
      if (parsed === undefined || parsed.text !== member.tokensText) {
        parsed = { text: member.tokensText, tokens: member.tokensText.split(",").map(tokenFromString) };
        this.parsedTokens.set(member.id, parsed);
      }
      owners.set(member.id, parsed.tokens);
    }
    for (const id of this.parsedTokens.keys()) if (!this.records.has(id)) this.parsedTokens.delete(id);
    return TokenMap.build(owners);
  }

  private ownership(): Map<NodeId, number> {
    if (this.ownershipCache === null) {
      const ring = this.ring();
      this.ownershipCache = ring.size > 0 ? ring.ownership() : new Map();
    }
    return this.ownershipCache;
  }

  private recomputeLiveness(): void {
    const suspected = new Set<NodeId>();
    for (const voter of this.voters) {
      const monitor = this.records.get(voter);
      if (monitor === undefined) continue;
      for (const vote of monitor.votes.values()) {
        const subject = this.records.get(vote.subject);
        if (subject && vote.generation === subject.generation && vote.incarnation >= subject.incarnation) {
          suspected.add(vote.subject);
        }
      }
    }
    // Only an accused member can be convicted and only a down one acquitted: look at those alone.
    for (const id of new Set([...suspected, ...this.down])) {
      const member = this.records.get(id);
      if (member === undefined || member.id === this.options.id) continue;
      const monitors = member.status === "left" ? [] : this.effectiveMonitors(member.id);
      const convicted =
        suspected.has(member.id) &&
        isConvicted({
          subject: { id: member.id, generation: member.generation, incarnation: member.incarnation },
          monitors,
          votesBy: (monitor) => this.records.get(monitor)?.votes.get(member.id),
          suspected: (monitor) => suspected.has(monitor),
          votesRequired: VOTES_REQUIRED_DEFAULT,
        });
      const wasDown = this.down.has(member.id);
      if (convicted && !wasDown) {
        this.down.add(member.id);
        this.takeoverDirty = true;
        this.events.push({ kind: "member-down", id: member.id });
      } else if (!convicted && wasDown) {
        this.down.delete(member.id);
        this.takeoverDirty = true;
        this.events.push({ kind: "member-up", id: member.id });
      }
    }
  }

  /** A live member convicted by others says so: a higher incarnation voids the votes (SWIM's refutation). */
  private maybeRefute(): void {
    const self: SubjectRef = { id: this.options.id, generation: this.options.generation, incarnation: this.incarnation };
    const against: Vote[] = [];
    for (const voter of this.voters) {
      const vote = this.records.get(voter)?.votes.get(this.options.id);
      if (vote !== undefined) against.push(vote);
    }
    const next = shouldRefute(self, against);
    if (next !== null && next > this.incarnation) {
      this.incarnation = next;
      this.gossiper.setLocal(KEY_INCARNATION, String(next));
      // Our own record changes with it; read it back so verdicts use the new incarnation.
      this.gossiper.takeChanges().forEach((change) => {
        if (change.kind === "updated" || change.kind === "joined" || change.kind === "restarted") this.readMember(change.id, false);
      });
      this.livenessDirty = true;
    }
  }

  /** A token list is 16 hex digits per token, comma-separated; anything else is a malformed state. */
  private checkTokens(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    if (text === "") return "";
    const count = (text.length + 1) / TOKEN_TEXT_STRIDE;
    if (!Number.isInteger(count) || count > CLUSTER_VIEW_DEFAULTS.tokensPerMemberMax || !TOKEN_LIST_PATTERN.test(text)) {
      this.counters.malformedStates += 1;
      return undefined;
    }
    return text;
  }

  private parseVotes(text: string): ReadonlyMap<NodeId, Vote> {
    const votes = new Map<NodeId, Vote>();
    if (text === "[]") return votes;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.counters.malformedStates += 1;
      return votes;
    }
    if (!Array.isArray(parsed) || parsed.length > CLUSTER_VIEW_DEFAULTS.votesPerMemberMax) {
      this.counters.malformedStates += 1;
      return votes;
    }
    for (const item of parsed) {
      if (isVote(item)) votes.set(item.subject, item);
      else this.counters.malformedStates += 1;
    }
    return votes;
  }
}

/** Gone from the cluster: left by itself, or removed. */
function isGone(member: MemberRecord): boolean {
  return member.status === "left" || member.removed;
}

/** Owns ranges of the current ring: normal, or leaving and not yet done streaming. */
function isOwner(member: MemberRecord): boolean {
  return !member.removed && (member.status === "normal" || member.status === "leaving") && member.tokenCount > 0;
}

/** Owns ranges of the future ring: normal, or joining with announced tokens. */
function isFutureOwner(member: MemberRecord): boolean {
  return !member.removed && (member.status === "normal" || member.status === "joining") && member.tokenCount > 0;
}

export function createClusterEngine(options: ClusterEngineOptions, random: Random): ClusterView {
  return new ClusterView(options, random);
}

function isVote(value: unknown): value is Vote {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["subject"] === "string" &&
    isCount(v["generation"]) &&
    isCount(v["incarnation"]) &&
    typeof v["phi"] === "number" &&
    isCount(v["samples"]) &&
    typeof v["silentMs"] === "number" &&
    typeof v["atMs"] === "number"
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseStatus(text: string | undefined): MemberStatus | undefined {
  return MEMBER_STATUSES.find((status) => status === text);
}

function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

function parseLoad(text: string | undefined): { keys: number; bytes: number } | null {
  if (text === undefined) return null;
  const match = /^(\d{1,15}),(\d{1,15})$/.exec(text);
  if (match === null) return null;
  return { keys: Number(match[1]), bytes: Number(match[2]) };
}

function relativeChange(before: number, after: number): number {
  if (before === after) return 0;
  return Math.abs(after - before) / Math.max(1, Math.abs(before));
}
