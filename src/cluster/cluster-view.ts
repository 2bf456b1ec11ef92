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
//   live member that sees itself convicted refutes (liveness.ts). This view's liveness
//   bookkeeping — the down set, the monitor ring, the failure detector, whom it heartbeats, its
//   incarnation — is kept by liveness-view.ts, which the view tells of every record change.
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
// - Cluster metadata (metadata.ts, bucket properties): spread by its own exchange,
//   metadata-gossip.ts, which the view ticks and hands metadata messages to.
//
// The gossiped states are text on the wire, checked and parsed in gossiped-state.ts and read into
// one MemberRecord per member (member-record.ts).
//
// Everything is driven by tick(nowMs) and receive(message, nowMs); the view never reads a clock or
// a global random source, so the simulator runs the same code under virtual time.

import { assert } from "../core/assert.js";
import type { MemberStatus, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
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
import { LivenessView } from "./liveness-view.js";
import { membersWaitingToJoin, membershipOf, memberViewOf, readRecord } from "./member-record.js";
import type { MemberRecord, RecordReading } from "./member-record.js";
import { CLUSTER_VIEW_DEFAULTS } from "./cluster-view-defaults.js";
import { LoadPublisher } from "./load-publisher.js";
import type { PeerMessage } from "./peer-messages.js";
import { isMetadataMessage } from "./metadata-messages.js";
import { metadataGossipOf, type MetadataGossip, type MetadataPeer } from "./metadata-gossip.js";
import { effectiveStatus, restatedMembers, type Removal } from "./removal.js";
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
  private readonly records = new Map<NodeId, MemberRecord>();
  /**
   * False until the first tick or message: the detector must not start a silence clock at a made-up
   * time.
   */
  private started = false;
  /** Who is down here, whom this node heartbeats and watches, its incarnation: liveness-view.ts. */
  private readonly liveness: LivenessView;
  private events: ClusterEvent[] = [];
  private ringDirty = true;
  /** The current and future rings, rebuilt lazily from the records. */
  private readonly rings = new RingView(this.records);
  /** The removals this node drives, the tombstones it remembers, and every removal by target. */
  private readonly removalBook: RemovalBook;
  private ticks = 0;
  /** The latest time a driver gave us, for changes made between calls (setStatus). */
  private lastNowMs = 0;
  private readonly loadPublisher = new LoadPublisher({
    intervalMs: CLUSTER_VIEW_DEFAULTS.loadPublishIntervalMs,
    changeRatioMin: CLUSTER_VIEW_DEFAULTS.loadChangeRatioMin,
  });
  private counters = { heartbeatsSent: 0, heartbeatsReceived: 0, malformedStates: 0 };
  /** The cluster metadata's exchange (metadata-gossip.ts), when the node gave metadata. */
  private readonly metadata: MetadataGossip | null;

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
    this.gossiper.setLocal(KEY_STATUS, options.status);
    this.gossiper.setLocal(KEY_TOKENS, encodeTokens(options.tokens));
    this.gossiper.setLocal(KEY_INCARNATION, "0");
    this.gossiper.setLocal(KEY_VOTES, "[]");
    const saved = options.saved ?? NO_SAVED_MEMBERSHIP;
    this.removalBook = new RemovalBook(saved.tombstones);
    this.gossiper.setLocal(KEY_REMOVALS, encodeRemovals(this.removalBook.published()));
    this.liveness = new LivenessView({ id: self, generation }, this.records, {
      phiThreshold: options.phiThreshold,
      tickIntervalMs: this.tickIntervalMs,
    });
    this.restoreSaved(saved);
    this.absorbGossipChanges(null);
    this.metadata = metadataGossipOf(options);
  }

  tick(nowMs: number): Outbound[] {
    this.lastNowMs = nowMs;
    this.started = true;
    this.ticks += 1;
    const out: Outbound[] = [];
    this.publishVotes(nowMs);
    this.maybePublishLoad(nowMs);
    this.refreshStructure(nowMs, true);
    const heartbeats = this.liveness.heartbeats(nowMs);
    this.counters.heartbeatsSent += heartbeats.length;
    out.push(...heartbeats);
    const round = (this.ticks - 1) % CLUSTER_VIEW_DEFAULTS.heartbeatsPerGossipRound === 0;
    if (round) out.push(...this.fromGossip(this.gossiper.tick(nowMs, this.isLiveForGossip)));
    if (this.metadata !== null) out.push(...this.metadata.tick(round, this.livePeers));
    this.absorbGossipChanges(nowMs);
    return out;
  }

  receive(message: PeerMessage, nowMs: number): Outbound[] {
    this.lastNowMs = nowMs;
    this.started = true;
    if (message.kind === "heartbeat") {
      this.counters.heartbeatsReceived += 1;
      this.liveness.heartbeat(message, nowMs);
      // An acquittal should not wait for the next tick: "live again on its next heartbeat".
      this.publishVotes(nowMs);
      this.absorbGossipChanges(nowMs);
      // A changed vote goes out with the next tick's exchange (at most one tick later).
      return [];
    }
    if (isMetadataMessage(message)) return this.metadata?.receive(message, this.livePeers) ?? [];
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

  /** See ClusterEngine.announceShutdown: a clean stop, pushed to every live member (bounded). */
  announceShutdown(nowMs: number): Outbound[] {
    this.gossiper.setLocal(KEY_SHUTDOWN, SHUTDOWN_VALUE);
    this.absorbGossipChanges(nowMs);
    const targetsMax = CLUSTER_VIEW_DEFAULTS.shutdownAnnounceTargetsMax;
    return this.fromGossip(this.gossiper.announce(KEY_SHUTDOWN, this.isLiveForGossip, targetsMax));
  }

  /** Announces this node's tokens (a joining node, once it has chosen them; [] withdraws). */
  setTokens(tokens: readonly bigint[]): void {
    this.gossiper.setLocal(KEY_TOKENS, encodeTokens(tokens));
    this.absorbGossipChanges(this.started ? this.lastNowMs : null);
  }

  /** Publishes (or advances) the removal of a dead member this node drives (remove-node). */
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

  /** Drops tombstones past the node's horizon (topology/known-peers.ts): not republished. */
  forgetTombstones(tombstones: readonly Tombstone[]): void {
    if (this.removalBook.forget(tombstones)) this.publishRemovals();
  }

  /** The ring once the ring changes in progress complete: normal + joining − leaving. */
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
    if (this.liveness.isDown(id)) return false;
    const member = this.records.get(id);
    // A member that left is gone even though nobody convicts it (left members are not monitored).
    return member !== undefined && !member.removed && member.status !== "left";
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
      phi: self ? null : this.liveness.phi(id, nowMs),
      heartbeat: self
        ? this.liveness.heartbeatSequence
        : (this.liveness.lastSequence(id) ?? this.gossiper.endpoint(id)?.maxVersion ?? 0),
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

  private readonly isLiveForGossip = (id: NodeId): boolean => !this.liveness.isDown(id);

  private readonly livePeers = (): MetadataPeer[] =>
    [...this.records.values()].filter((r) => r.id !== this.options.id && this.isLive(r.id));

  metadataDigests(): ReadonlyMap<NodeId, string> {
    return this.metadata?.heardDigests() ?? new Map();
  }

  private readonly fromGossip = (outbounds: readonly GossipOutbound[]): Outbound[] =>
    outbounds.map((o) => ({ to: o.to, address: o.address, message: o.message }));

  /** Votes cast or withdrawn by this node's detector become its `votes` state, pushed eagerly. */
  private publishVotes(nowMs: number): void {
    const votes = this.liveness.evaluate(nowMs);
    if (votes !== null) this.gossiper.setLocal(KEY_VOTES, JSON.stringify(votes));
  }

  private maybePublishLoad(nowMs: number): void {
    const load = this.loadPublisher.take(nowMs);
    if (load !== null) this.gossiper.setLocal(KEY_LOAD, encodeLoad(load));
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
            this.liveness.noteForgotten(change.id);
            this.rings.setOwnerHash(change.id, null);
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
    const { status, removals, removalsText } = record;
    this.records.set(id, record);
    this.liveness.noteRecord(previous, record);
    if (
      id !== this.options.id &&
      record.gossipStatus === "left" &&
      this.removalBook.remember(record)
    )
      this.publishRemovals();
    this.noteRingEffects(previous, record);
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
    if (effects.monitors) this.liveness.markMonitorsStale();
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
    for (const { before, after } of restatedMembers(this.records.values(), byTarget)) {
      this.records.set(after.id, after);
      this.noteRingEffects(before, after);
      this.liveness.markStale();
      if (after.removed) {
        this.liveness.noteRemoved(after.id);
        this.events.push({ kind: "member-removed", id: after.id });
      } else {
        this.events.push({ kind: "status-changed", id: after.id, status: after.status });
      }
    }
  }

  /** The view starts with the members its node saved: down, tokens in the ring. */
  private restoreSaved(saved: SavedMembership): void {
    for (const record of restoredRecords(saved, this.options.id, (id, generation) =>
      this.removalBook.buries(id, generation),
    )) {
      this.records.set(record.id, record);
      this.liveness.noteSaved(record);
      this.noteRingEffects(undefined, record);
    }
  }

  /** This node's `removals` state: its tombstones and the removals it drives (removal-book.ts). */
  private publishRemovals(): void {
    this.gossiper.setLocal(KEY_REMOVALS, encodeRemovals(this.removalBook.published()));
  }

  /** Recomputes whatever the last changes made stale: monitors, ring, verdicts, refutation. */
  private refreshStructure(nowMs: number, atTick: boolean): void {
    this.liveness.refreshMonitors(nowMs, atTick);
    if (this.ringDirty) {
      this.ringDirty = false;
      this.rings.invalidate();
      this.events.push({ kind: "tokens-changed" });
    }
    const changes = this.liveness.recomputeIfStale();
    if (changes !== null) {
      for (const id of changes.down) this.events.push({ kind: "member-down", id });
      for (const id of changes.up) this.events.push({ kind: "member-up", id });
      this.maybeRefute();
    }
  }

  /** A live member convicted by others refutes: a higher incarnation voids the votes (SWIM). */
  private maybeRefute(): void {
    const next = this.liveness.refutation();
    if (next !== null) {
      this.gossiper.setLocal(KEY_INCARNATION, String(next));
      // Our own record changes with it; read it back so verdicts use the new incarnation.
      this.gossiper.takeChanges().forEach((change) => {
        if (change.kind === "updated" || change.kind === "joined" || change.kind === "restarted")
          this.readMember(change.id, false);
      });
      this.liveness.markStale();
    }
  }
}

export function createClusterEngine(options: ClusterEngineOptions, random: Random): ClusterView {
  return new ClusterView(options, random);
}
