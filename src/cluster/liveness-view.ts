// cluster/liveness-view.ts — one view's liveness bookkeeping: who is down here, who holds votes,
// who is down without votes, the monitor ring, whom this node heartbeats and watches (its failure
// detector), and its incarnation, which it raises to refute a conviction.
//
// The rules are pure functions in liveness.ts and detector/verdict.ts; this class keeps their
// inputs current and reruns them lazily. ClusterView (cluster-view.ts) owns it, tells it when
// records change, raises its stale flags, and gossips what it decides (votes, incarnation); the
// members' records themselves stay with ClusterView and are only read here.

import type { NodeId } from "../core/ids.js";
import {
  FailureDetector,
  type FailureDetectorOptions,
  type SubjectRef,
  type Vote,
} from "../detector/failure-detector.js";
import { MonitorRing } from "../detector/monitors.js";
import { shouldRefute } from "../detector/verdict.js";
import { CLUSTER_VIEW_DEFAULTS } from "./cluster-view-defaults.js";
import type { Outbound } from "./engine.js";
import { Heartbeats } from "./heartbeats.js";
import {
  detectorSubjects,
  effectiveMonitors,
  livenessChanges,
  type LivenessChanges,
  votesAgainst,
} from "./liveness.js";
import { livenessMayDiffer, type MemberRecord } from "./member-record.js";
import type { HeartbeatMessage } from "./peer-messages.js";

export class LivenessView {
  private readonly down = new Set<NodeId>();
  /** Members holding at least one vote: verdicts only ever need to look at these. */
  private readonly voters = new Set<NodeId>();
  /**
   * Other members down without votes: their generation announced a clean stop, or they are only
   * saved.
   */
  private readonly shutdowns = new Set<NodeId>();
  private monitorRing: MonitorRing;
  private monitorRingDirty = true;
  private livenessDirty = true;
  /**
   * The down set changed: take-over monitors (effectiveMonitors) may differ; recomputed at the next
   * tick.
   */
  private takeoverDirty = false;
  private readonly heartbeatPlan = new Heartbeats(CLUSTER_VIEW_DEFAULTS.previousMonitorGraceMs);
  private readonly detector: FailureDetector;
  private incarnation = 0;

  constructor(
    private readonly self: { readonly id: NodeId; readonly generation: number },
    private readonly records: ReadonlyMap<NodeId, MemberRecord>,
    detectorOptions: FailureDetectorOptions,
  ) {
    this.detector = new FailureDetector(detectorOptions);
    this.monitorRing = new MonitorRing([self.id]);
  }

  /** Whether a member is down in this view (convicted, shut down, or only saved). */
  isDown(id: NodeId): boolean {
    return this.down.has(id);
  }

  /** The sequence of this node's last heartbeat (0 before the first). */
  get heartbeatSequence(): number {
    return this.heartbeatPlan.sequence;
  }

  /** One tick's heartbeats to this node's monitors (heartbeats.ts). */
  heartbeats(nowMs: number): Outbound[] {
    const { id, generation } = this.self;
    return this.heartbeatPlan.next(nowMs, this.records, {
      id,
      generation,
      incarnation: this.incarnation,
    });
  }

  /** A heartbeat from a member this node monitors (detector/failure-detector.ts). */
  heartbeat(message: HeartbeatMessage, nowMs: number): void {
    const { from, generation, incarnation, sequence } = message;
    this.detector.heartbeat(from, generation, incarnation, sequence, nowMs);
  }

  /**
   * Lets the detector convict or acquit; the votes this node now publishes if any changed, else
   * null.
   */
  evaluate(nowMs: number): Vote[] | null {
    const changes = this.detector.evaluate(nowMs);
    if (changes.convicted.length === 0 && changes.acquitted.length === 0) return null;
    return this.detector.votes().slice(0, CLUSTER_VIEW_DEFAULTS.votesPerMemberMax);
  }

  /** A monitored member's phi now, as the detector sees it. */
  phi(id: NodeId, nowMs: number): number | null {
    return this.detector.phi(id, nowMs);
  }

  /** The sequence of the last heartbeat heard from a monitored member. */
  lastSequence(id: NodeId): number | undefined {
    return this.detector.lastSequence(id);
  }

  /**
   * A member's record was (re)read from gossip: whether it holds votes, or is down without any, and
   * whether the verdicts must rerun.
   */
  noteRecord(previous: MemberRecord | undefined, record: MemberRecord): void {
    if (record.votes.size > 0) this.voters.add(record.id);
    else this.voters.delete(record.id);
    this.noteSilence(record);
    if (record.id === this.self.id)
      this.incarnation = Math.max(this.incarnation, record.incarnation);
    if (livenessMayDiffer(previous, record)) this.livenessDirty = true;
  }

  /** A member the node saved: down until gossip brings it (saved-members.ts). */
  noteSaved(record: MemberRecord): void {
    this.noteSilence(record);
    this.down.add(record.id);
  }

  /** Gossip forgot a member: it leaves every set, and the monitor ring. */
  noteForgotten(id: NodeId): void {
    this.down.delete(id);
    this.voters.delete(id);
    this.shutdowns.delete(id);
    this.monitorRingDirty = true;
    this.livenessDirty = true;
  }

  /** A member was removed (removenode): it is no longer down, it is gone. */
  noteRemoved(id: NodeId): void {
    this.down.delete(id);
    this.shutdowns.delete(id);
  }

  /** The set of members on the monitor ring may have changed: rebuild it at the next tick. */
  markMonitorsStale(): void {
    this.monitorRingDirty = true;
  }

  /** Something a verdict reads changed: rerun the verdicts at the next refresh. */
  markStale(): void {
    this.livenessDirty = true;
  }

  /**
   * Brings the monitor ring, this node's heartbeat targets and its detector's subjects up to date.
   * The monitor ring is rebuilt at most once a tick (a sort of every member): a burst of gossip
   * messages while a thousand nodes join must not rebuild it per message. Verdicts stay per
   * message.
   */
  refreshMonitors(nowMs: number, atTick: boolean): void {
    if ((this.monitorRingDirty || this.takeoverDirty) && atTick) {
      if (this.monitorRingDirty) {
        const ids = [...this.records.values()].filter((m) => m.status !== "left").map((m) => m.id);
        this.monitorRing = new MonitorRing(ids);
      }
      this.monitorRingDirty = false;
      this.takeoverDirty = false;
      this.heartbeatPlan.setMonitors(this.effectiveMonitors(this.self.id), nowMs);
      this.livenessDirty = true;
      this.updateSubjects(nowMs);
    } else if (this.livenessDirty) {
      this.updateSubjects(nowMs);
    }
  }

  /** Reruns the verdict rule if anything it reads changed; null if nothing did. */
  recomputeIfStale(): LivenessChanges | null {
    if (!this.livenessDirty) return null;
    this.livenessDirty = false;
    const { records, voters, down, shutdowns } = this;
    const changes = livenessChanges({
      self: this.self.id,
      records,
      voters,
      down,
      shutdowns,
      monitorsOf: (id) => this.effectiveMonitors(id),
    });
    if (changes.down.length + changes.up.length > 0) this.takeoverDirty = true;
    for (const id of changes.down) this.down.add(id);
    for (const id of changes.up) this.down.delete(id);
    return changes;
  }

  /**
   * A live member convicted by others says so: a higher incarnation voids the votes (SWIM's
   * refutation). The new incarnation to publish, or null if there is nothing to refute.
   */
  refutation(): number | null {
    const self: SubjectRef = { ...this.self, incarnation: this.incarnation };
    const against = votesAgainst(this.voters, this.records, this.self.id);
    const next = shouldRefute(self, against);
    if (next === null || next <= this.incarnation) return null;
    this.incarnation = next;
    return next;
  }

  /** A member down without votes: its generation announced a clean stop, or it is only saved. */
  private noteSilence(record: MemberRecord): void {
    if ((record.shutdown || record.saved) && record.id !== this.self.id)
      this.shutdowns.add(record.id);
    else this.shutdowns.delete(record.id);
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
      detectorSubjects(this.monitorRing, this.down, k, this.records, this.self.id),
      nowMs,
    );
  }
}
