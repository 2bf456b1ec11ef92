// cluster/cluster-view.ts — one node's view of the cluster: gossip + failure detector + ring.
//
// Theory of operation. Three pure engines are composed here and nothing else is added but
// bookkeeping:
//
// - Gossip (gossip/gossiper.ts) spreads each member's endpoint state: its generation and the
//   application states this view publishes for it — `status`, `tokens`, `load`, `incarnation` and
//   `votes`. Only real changes bump a version, so two nodes that agree exchange one summary hash.
// - Liveness does not come from gossip: members heartbeat their monitors directly, monitors publish
//   their convictions as gossiped votes, and every node applies the same verdict rule to them; a
//   live member that sees itself convicted refutes (liveness.ts).
// - The ring (ring/token-map.ts) is built from the tokens of members in state `normal`, lazily: a
//   change that can move it (a normal member's tokens, or a member entering or leaving `normal`)
//   marks it stale and emits `tokens-changed` once per batch of changes; the next ring() call
//   rebuilds it (ring-view.ts).
// - Ring changes (topology/). The current ring holds members in `normal` and `leaving` (a leaving
//   member still serves its ranges until it has streamed them away, as in Cassandra's
//   TokenMetadata); the future ring holds `normal` and `joining` members that have announced
//   tokens, less the leaving ones. Writes also go to replicas that are in the future ring's replica
//   set but not the current one (pending replicas). A member that is dead for good is removed by
//   another member (removenode, removal.ts). A joining member without tokens is waiting for its
//   turn to join and is not a ring change.
// - Saved members (saved-members.ts): a view starts with the members its node saved, down with
//   their tokens, until gossip brings them; tombstones (removal-book.ts) keep gone members gone
//   across restarts.
// - A clean stop (SIGTERM, `grapevine stop`) gossips `shutdown` for the stopping generation and
//   pushes it to every live member at once (announceShutdown): peers count the member down without
//   waiting for votes, and keep its tokens, as Cassandra's `shutdown` and unlike `leaving`. Its
//   restart's newer generation carries a fresh state without it, and it is up again.
//
// The gossiped states are text on the wire, checked and parsed in gossiped-state.ts and read into
// one MemberRecord per member (member-record.ts).
//
// Everything is driven by tick(nowMs) and receive(message, nowMs); the view never reads a clock or
// a global random source, so the simulator runs the same code under virtual time.

import { assert } from "../core/assert.js";
import type { MemberStatus, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { FailureDetector, type SubjectRef, type Vote } from "../detector/failure-detector.js";
import { MonitorRing } from "../detector/monitors.js";
import { shouldRefute } from "../detector/verdict.js";
import type { GossipChange, GossipOutbound } from "../gossip/gossiper.js";
import { Gossiper } from "../gossip/gossiper.js";
import type { TokenMap } from "../ring/token-map.js";
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
import {
  encodeLoad,
  encodeRemovals,
  encodeTokens,
  KEY_INCARNATION,
  KEY_LOAD,
  KEY_REMOVALS,
  KEY_SHUTDOWN,
  KEY_STATUS,
  KEY_TOKENS,
  KEY_VOTES,
  SHUTDOWN_VALUE,
  URGENT_KEYS,
} from "./gossiped-state.js";
import { detectorSubjects, effectiveMonitors, livenessChanges, votesAgainst } from "./liveness.js";
import {
  livenessMayDiffer,
  membersWaitingToJoin,
  membershipOf,
  memberViewOf,
  readRecord,
} from "./member-record.js";
import type { MemberRecord, RecordReading } from "./member-record.js";
import { CLUSTER_VIEW_DEFAULTS } from "./cluster-view-defaults.js";
import { Heartbeats } from "./heartbeats.js";
import { LoadPublisher } from "./load-publisher.js";
import type { PeerMessage } from "./peer-messages.js";
import { effectiveStatus, type Removal } from "./removal.js";
import { RemovalBook, type Tombstone } from "./removal-book.js";
import { ringChangesOf, RingView } from "./ring-view.js";
import {
  gossipReplaces,
  NO_SAVED_MEMBERSHIP,
  restoredRecords,
  savedMembersOf,
  type SavedMembership,
} from "./saved-members.js";

export type { Removal } from "./removal.js";
export { CLUSTER_VIEW_DEFAULTS } from "./cluster-view-defaults.js";

export class ClusterView implements TopologyEngine {
  readonly tickIntervalMs: number;
  private readonly options: ClusterEngineOptions;
  private readonly gossiper: Gossiper;
  private readonly detector: FailureDetector;
  private readonly records = new Map<NodeId, MemberRecord>();
  /**
   * False until the first tick or message: the detector must not start a silence clock at a made-up
   * time.
   */
  private started = false;
  private readonly down = new Set<NodeId>();
  /** Members holding at least one vote: verdicts only ever need to look at these. */
  private readonly voters = new Set<NodeId>();
  /**
   * Other members down without votes: their generation announced a clean stop, or they are only
   * saved.
   */
  private readonly shutdowns = new Set<NodeId>();
  private events: ClusterEvent[] = [];
  private monitorRing: MonitorRing;
  private monitorRingDirty = true;
  private livenessDirty = true;
  /**
   * The down set changed: take-over monitors (effectiveMonitors) may differ; recomputed at the next
   * tick.
   */
  private takeoverDirty = false;
  private ringDirty = true;
  /** The current and future rings, rebuilt lazily from the records. */
  private readonly rings = new RingView(this.records);
  /** The removals this node drives, the tombstones it remembers, and every removal by target. */
  private readonly removalBook: RemovalBook;
  private incarnation = 0;
  private readonly heartbeatPlan = new Heartbeats(CLUSTER_VIEW_DEFAULTS.previousMonitorGraceMs);
  private ticks = 0;
  /** The latest time a driver gave us, for changes made between calls (setStatus). */
  private lastNowMs = 0;
  private readonly loadPublisher = new LoadPublisher({
    intervalMs: CLUSTER_VIEW_DEFAULTS.loadPublishIntervalMs,
    changeRatioMin: CLUSTER_VIEW_DEFAULTS.loadChangeRatioMin,
  });
  private counters = { heartbeatsSent: 0, heartbeatsReceived: 0, malformedStates: 0 };

  constructor(options: ClusterEngineOptions, random: Random) {
    assert(options.gossipIntervalMs > 0, "gossipIntervalMs must be positive");
    // A joining node may start without tokens: it picks them once it has seen the ring
    // (topology/bootstrap).
    assert(
      options.tokens.length > 0 || options.status === "joining",
      "a member needs at least one token",
    );
    this.options = options;
    this.tickIntervalMs = options.gossipIntervalMs / CLUSTER_VIEW_DEFAULTS.heartbeatsPerGossipRound;
    const { id: self, address, generation } = options;
    const seeds = options.seeds.filter((seed) => seed !== address);
    this.gossiper = new Gossiper(
      {
        self,
        address,
        generation,
        seeds,
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
    this.gossiper.setLocal(KEY_TOKENS, encodeTokens(options.tokens));
    this.gossiper.setLocal(KEY_INCARNATION, "0");
    this.gossiper.setLocal(KEY_VOTES, "[]");
    const saved = options.saved ?? NO_SAVED_MEMBERSHIP;
    this.removalBook = new RemovalBook(saved.tombstones);
    this.gossiper.setLocal(KEY_REMOVALS, encodeRemovals(this.removalBook.published()));
    this.monitorRing = new MonitorRing([options.id]);
    this.restoreSaved(saved);
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
      this.detector.heartbeat(
        message.from,
        message.generation,
        message.incarnation,
        message.sequence,
        nowMs,
      );
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
    this.loadPublisher.set(load);
  }

  setStatus(status: MemberStatus): void {
    this.gossiper.setLocal(KEY_STATUS, status);
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /**
   * See ClusterEngine.announceShutdown: a clean stop, pushed to every live member (up to a bound).
   */
  announceShutdown(nowMs: number): Outbound[] {
    this.gossiper.setLocal(KEY_SHUTDOWN, SHUTDOWN_VALUE);
    this.absorbGossipChanges(nowMs);
    const targetsMax = CLUSTER_VIEW_DEFAULTS.shutdownAnnounceTargetsMax;
    return this.fromGossip(this.gossiper.announce(KEY_SHUTDOWN, this.isLiveForGossip, targetsMax));
  }

  /**
   * Announces this node's tokens (a joining node, once it has chosen them; [] to withdraw them).
   */
  setTokens(tokens: readonly bigint[]): void {
    this.gossiper.setLocal(KEY_TOKENS, encodeTokens(tokens));
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /**
   * Publishes (or advances) the removal of a dead member; this node drives it
   * (topology/remove-node).
   */
  announceRemoval(id: NodeId, phase: Removal["phase"]): void {
    const member = this.records.get(id);
    assert(member !== undefined, () => `cannot remove unknown member ${id}`);
    assert(id !== this.options.id, "a node cannot remove itself");
    this.removalBook.announce({ id, generation: member.generation, phase });
    this.publishRemovals();
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /** What the node saves for its next start: the other members not gone, and the tombstones. */
  savedMembership(): SavedMembership {
    return {
      members: savedMembersOf(this.records.values(), this.options.id),
      tombstones: this.removalBook.tombstoneList(),
    };
  }

  /**
   * Drops tombstones past the node's horizon (topology/known-peers.ts); they are no longer
   * republished.
   */
  forgetTombstones(tombstones: readonly Tombstone[]): void {
    if (this.removalBook.forget(tombstones)) this.publishRemovals();
  }

  /**
   * The ring once the ring changes in progress complete: normal and joining members, less leaving
   * ones.
   */
  futureRing(): TokenMap {
    return this.rings.futureRing();
  }

  /** Ring changes in progress as this view sees them, by member id. */
  ringChanges(): RingChange[] {
    return ringChangesOf(this.records.values(), this.removalBook.removalsByTarget);
  }

  /** Members in state joining that have not announced tokens yet: nodes waiting for their turn. */
  waitingToJoin(): NodeId[] {
    return membersWaitingToJoin(this.records.values());
  }

  /** Whether a member was removed from the cluster (removenode) in this view. */
  isRemoved(id: NodeId): boolean {
    return this.records.get(id)?.removed === true;
  }

  ringFingerprint(): string {
    return this.rings.fingerprint();
  }

  membership(): MembershipEntry[] {
    return membershipOf(this.records.values(), (id) => this.isLive(id));
  }

  isLive(id: NodeId): boolean {
    if (id === this.options.id) return true;
    const member = this.records.get(id);
    // A member that left is gone even though nobody convicts it (left members are not monitored).
    return (
      member !== undefined && !member.removed && member.status !== "left" && !this.down.has(id)
    );
  }

  ring(): TokenMap {
    return this.rings.ring();
  }

  members(nowMs: number): MemberView[] {
    return [...this.records.keys()].sort().flatMap((id) => this.member(id, nowMs) ?? []);
  }

  /** One member as members() shows it, without walking the others. */
  member(id: NodeId, nowMs: number): MemberView | undefined {
    const member = this.records.get(id);
    if (member === undefined || member.removed) return undefined;
    const self = id === this.options.id;
    return memberViewOf(member, {
      live: this.isLive(id),
      phi: self ? null : this.detector.phi(id, nowMs),
      heartbeat: self
        ? this.heartbeatPlan.sequence
        : (this.detector.lastSequence(id) ?? this.gossiper.endpoint(id)?.maxVersion ?? 0),
      ownership: this.rings.ownership().get(id) ?? 0,
    });
  }

  stats(): ClusterStats {
    const { rounds: gossipRounds, messagesSent, messagesReceived } = this.gossiper.stats;
    const { heartbeatsSent, heartbeatsReceived, malformedStates: messagesRefused } = this.counters;
    return {
      gossipRounds,
      messagesSent: messagesSent + heartbeatsSent,
      messagesReceived: messagesReceived + heartbeatsReceived,
      messagesRefused,
    };
  }

  // ---------------------------------------------------------------------------------------------

  private readonly isLiveForGossip = (id: NodeId): boolean => !this.down.has(id);

  private readonly fromGossip = (outbounds: readonly GossipOutbound[]): Outbound[] =>
    outbounds.map((o) => ({ to: o.to, address: o.address, message: o.message }));

  /** Votes cast or withdrawn by this node's detector become its `votes` state, pushed eagerly. */
  private absorbDetector(changes: {
    convicted: readonly Vote[];
    acquitted: readonly NodeId[];
  }): void {
    if (changes.convicted.length === 0 && changes.acquitted.length === 0) return;
    const votes = this.detector.votes().slice(0, CLUSTER_VIEW_DEFAULTS.votesPerMemberMax);
    this.gossiper.setLocal(KEY_VOTES, JSON.stringify(votes));
  }

  private maybePublishLoad(nowMs: number): void {
    const load = this.loadPublisher.take(nowMs);
    if (load !== null) this.gossiper.setLocal(KEY_LOAD, encodeLoad(load));
  }

  private heartbeats(nowMs: number): Outbound[] {
    const from = {
      id: this.options.id,
      generation: this.options.generation,
      incarnation: this.incarnation,
    };
    const out = this.heartbeatPlan.next(nowMs, this.records, from);
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
          if (change.id !== this.options.id)
            this.events.push({ kind: "member-joined", id: change.id });
          break;
        case "restarted":
          this.readMember(change.id, true);
          this.events.push({
            kind: "member-restarted",
            id: change.id,
            generation: change.generation,
          });
          break;
        case "updated":
          this.readMember(change.id, false);
          break;
        case "forgotten":
          if (this.records.delete(change.id)) {
            this.down.delete(change.id);
            this.voters.delete(change.id);
            this.shutdowns.delete(change.id);
            this.rings.setOwnerHash(change.id, null);
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
    const previous = this.records.get(id);
    // A saved record stands until gossip brings its generation or a newer one (saved-members.ts).
    if (!gossipReplaces(previous, endpoint.generation)) return;
    const before = fresh && previous?.saved !== true ? undefined : previous;
    const record = readRecord(id, endpoint, previous, this.recordReading);
    const { status, removals, removalsText, incarnation, votes } = record;
    this.records.set(id, record);
    if (votes.size > 0) this.voters.add(id);
    else this.voters.delete(id);
    this.noteSilence(record);
    if (
      id !== this.options.id &&
      record.gossipStatus === "left" &&
      this.removalBook.remember(record)
    )
      this.publishRemovals();
    if (id === this.options.id) this.incarnation = Math.max(this.incarnation, incarnation);
    this.noteRingEffects(previous, record);
    if (livenessMayDiffer(previous, record)) this.livenessDirty = true;
    if (before !== undefined && previous !== undefined && previous.status !== status) {
      this.events.push({ kind: "status-changed", id, status });
    }
    if (
      previous?.removalsText !== removalsText &&
      (removals.length > 0 || (previous?.removals.length ?? 0) > 0)
    ) {
      this.refreshRemovals();
    }
  }

  /** What a member's change does to the monitor ring and to the current and future rings. */
  private noteRingEffects(previous: MemberRecord | undefined, record: MemberRecord): void {
    const effects = this.rings.noteChange(previous, record);
    if (effects.monitors) this.monitorRingDirty = true;
    if (effects.rings) this.ringDirty = true;
  }

  /** How readRecord reads a member's states in this view: made once, not per gossip change. */
  private readonly recordReading: RecordReading = {
    // A removal published by anyone overrides the member's own status.
    effectiveStatus: (id, generation, gossipStatus) =>
      effectiveStatus(this.removalBook.removalsByTarget.get(id), generation, gossipStatus),
    tokensPerMemberMax: CLUSTER_VIEW_DEFAULTS.tokensPerMemberMax,
    votesPerMemberMax: CLUSTER_VIEW_DEFAULTS.votesPerMemberMax,
    onMalformed: () => {
      this.counters.malformedStates += 1;
    },
  };

  /** Some member's removals changed: re-derive every member's effective status. */
  private refreshRemovals(): void {
    if (this.removalBook.refresh(this.records.values())) this.publishRemovals();
    const byTarget = this.removalBook.removalsByTarget;
    for (const member of [...this.records.values()]) {
      const { status, removed } = effectiveStatus(
        byTarget.get(member.id),
        member.generation,
        member.gossipStatus,
      );
      if (status === member.status && removed === member.removed) continue;
      const record: MemberRecord = { ...member, status, removed };
      this.records.set(member.id, record);
      this.noteRingEffects(member, record);
      this.livenessDirty = true;
      if (removed) {
        this.down.delete(member.id);
        this.shutdowns.delete(member.id);
        this.events.push({ kind: "member-removed", id: member.id });
      } else {
        this.events.push({ kind: "status-changed", id: member.id, status });
      }
    }
  }

  /**
   * The view starts with the members its node saved: down, tokens in the ring (saved-members.ts).
   */
  private restoreSaved(saved: SavedMembership): void {
    for (const record of restoredRecords(saved, this.options.id, (id, generation) =>
      this.removalBook.buries(id, generation),
    )) {
      this.records.set(record.id, record);
      this.noteSilence(record);
      this.down.add(record.id);
      this.noteRingEffects(undefined, record);
    }
  }

  /** A member down without votes: its generation announced a clean stop, or it is only saved. */
  private noteSilence(record: MemberRecord): void {
    if ((record.shutdown || record.saved) && record.id !== this.options.id)
      this.shutdowns.add(record.id);
    else this.shutdowns.delete(record.id);
  }

  /** This node's `removals` state: its tombstones and the removals it drives (removal-book.ts). */
  private publishRemovals(): void {
    this.gossiper.setLocal(KEY_REMOVALS, encodeRemovals(this.removalBook.published()));
  }

  /** Recomputes whatever the last changes made stale: monitors, ring, verdicts, refutation. */
  private refreshStructure(nowMs: number, atTick: boolean): void {
    // The monitor ring is rebuilt at most once a tick (a sort of every member): a burst of gossip
    // messages while a thousand nodes join must not rebuild it per message. Verdicts stay per
    // message.
    if ((this.monitorRingDirty || this.takeoverDirty) && atTick) {
      if (this.monitorRingDirty) {
        const ids = [...this.records.values()].filter((m) => m.status !== "left").map((m) => m.id);
        this.monitorRing = new MonitorRing(ids);
      }
      this.monitorRingDirty = false;
      this.takeoverDirty = false;
      this.heartbeatPlan.setMonitors(this.effectiveMonitors(this.options.id), nowMs);
      this.livenessDirty = true;
      this.updateSubjects(nowMs);
    } else if (this.livenessDirty) {
      this.updateSubjects(nowMs);
    }
    if (this.ringDirty) {
      this.ringDirty = false;
      this.rings.invalidate();
      this.events.push({ kind: "tokens-changed" });
    }
    if (this.livenessDirty) {
      this.livenessDirty = false;
      this.recomputeLiveness();
      this.maybeRefute();
    }
  }

  /** A member's monitors as this view sees them, take-over included (liveness.ts). */
  private effectiveMonitors(id: NodeId): NodeId[] {
    return effectiveMonitors(
      this.monitorRing,
      this.down,
      CLUSTER_VIEW_DEFAULTS.monitorsPerMember,
      id,
    );
  }

  private updateSubjects(nowMs: number): void {
    const k = CLUSTER_VIEW_DEFAULTS.monitorsPerMember;
    this.detector.setSubjects(
      detectorSubjects(this.monitorRing, this.down, k, this.records, this.options.id),
      nowMs,
    );
  }

  private recomputeLiveness(): void {
    const { records, voters, down, shutdowns } = this;
    const changes = livenessChanges({
      self: this.options.id,
      records,
      voters,
      down,
      shutdowns,
      monitorsOf: (id) => this.effectiveMonitors(id),
    });
    if (changes.down.length + changes.up.length > 0) this.takeoverDirty = true;
    for (const id of changes.down) {
      this.down.add(id);
      this.events.push({ kind: "member-down", id });
    }
    for (const id of changes.up) {
      this.down.delete(id);
      this.events.push({ kind: "member-up", id });
    }
  }

  /**
   * A live member convicted by others says so: a higher incarnation voids the votes (SWIM's
   * refutation).
   */
  private maybeRefute(): void {
    const self: SubjectRef = {
      id: this.options.id,
      generation: this.options.generation,
      incarnation: this.incarnation,
    };
    const against = votesAgainst(this.voters, this.records, this.options.id);
    const next = shouldRefute(self, against);
    if (next !== null && next > this.incarnation) {
      this.incarnation = next;
      this.gossiper.setLocal(KEY_INCARNATION, String(next));
      // Our own record changes with it; read it back so verdicts use the new incarnation.
      this.gossiper.takeChanges().forEach((change) => {
        if (change.kind === "updated" || change.kind === "joined" || change.kind === "restarted")
          this.readMember(change.id, false);
      });
      this.livenessDirty = true;
    }
  }
}

export function createClusterEngine(options: ClusterEngineOptions, random: Random): ClusterView {
  return new ClusterView(options, random);
}
