// cluster/liveness.ts — who watches whom and when a member counts as down: the monitor choice and
// the verdict rule every view applies to the gossiped votes, as pure functions of a view's records.
//
// Liveness does not come from gossip. Every tick each member sends a direct heartbeat to its
// monitors: the `monitorsPerMember` successors of its id on a hash ring of all members that have
// not left (detector/monitors.ts), so monitor sets do not churn when someone dies. For a short
// grace after its monitor set changes, a member keeps heartbeating its previous monitors too, so a
// monitor that has not yet learned of the change does not convict it. Each monitor runs a
// phi-accrual detector per subject (detector/failure-detector.ts) and publishes its convictions
// ("votes", with their evidence: phi, samples, silence) in its own endpoint state, which gossip
// pushes eagerly (urgent keys) so every node hears within a few network hops.
//
// Every node applies the same verdict rule to the gossiped votes (detector/verdict.ts): a member
// is down when enough of its monitors convict its current generation and incarnation. A live member
// that sees itself convicted refutes by bumping its incarnation, SWIM-style, which voids the votes;
// its monitors also acquit it on its next heartbeat. A member is live until convicted.

import type { NodeId } from "../core/ids.js";
import type { SubjectRef, Vote } from "../detector/failure-detector.js";
import type { MonitorRing } from "../detector/monitors.js";
import { isConvicted, VOTES_REQUIRED_DEFAULT } from "../detector/verdict.js";
import type { MemberRecord } from "./member-record.js";

/**
 * A member's monitors as this view sees them: its k ring successors, unless every one of them is
 * down here; then the first k successors that are not take over. Without this, a member whose
 * monitors all sit on the far side of a partition (about one in 2^k per half) would never be
 * convicted on this side, and one whose monitors all crashed never anywhere. The member itself
 * makes the same choice from its own view when it picks whom to heartbeat; while views differ,
 * take-over monitors that hear nothing wait the detector's longer silence for subjects never heard
 * from.
 */
export function effectiveMonitors(
  monitorRing: MonitorRing,
  down: ReadonlySet<NodeId>,
  k: number,
  id: NodeId,
): NodeId[] {
  const regular = monitorRing.monitorsOf(id, k);
  if (down.size === 0 || regular.length === 0 || regular.some((monitor) => !down.has(monitor)))
    return regular;
  return monitorRing.successorsOf(id, k, (monitor) => !down.has(monitor));
}

/** The members `self` monitors: its regular subjects and those it takes over (for the detector). */
export function detectorSubjects(
  monitorRing: MonitorRing,
  down: ReadonlySet<NodeId>,
  k: number,
  records: ReadonlyMap<NodeId, MemberRecord>,
  self: NodeId,
): SubjectRef[] {
  const regular = new Set(monitorRing.subjectsOf(self, k));
  // Members whose regular monitors are all down here, and whose take-over monitors include us.
  const takeover = new Set<NodeId>();
  for (const dead of down) {
    for (const orphan of monitorRing.subjectsOf(dead, k)) {
      if (
        orphan !== self &&
        !regular.has(orphan) &&
        effectiveMonitors(monitorRing, down, k, orphan).includes(self)
      )
        takeover.add(orphan);
    }
  }
  const subjects: SubjectRef[] = [];
  for (const id of [...regular, ...takeover]) {
    const member = records.get(id);
    if (member === undefined) continue;
    subjects.push({
      id,
      generation: member.generation,
      incarnation: member.incarnation,
      takeover: takeover.has(id),
    });
  }
  return subjects;
}

/**
 * Members some voter holds a vote against that matches their current generation and incarnation.
 */
export function suspectedMembers(
  voters: Iterable<NodeId>,
  records: ReadonlyMap<NodeId, MemberRecord>,
): Set<NodeId> {
  const suspected = new Set<NodeId>();
  for (const voter of voters) {
    const monitor = records.get(voter);
    if (monitor === undefined) continue;
    for (const vote of monitor.votes.values()) {
      const subject = records.get(vote.subject);
      if (
        subject &&
        vote.generation === subject.generation &&
        vote.incarnation >= subject.incarnation
      ) {
        suspected.add(vote.subject);
      }
    }
  }
  return suspected;
}

/** The verdict rule (detector/verdict.ts) for one suspected member and its monitors. */
export function isMemberConvicted(
  member: MemberRecord,
  monitors: readonly NodeId[],
  records: ReadonlyMap<NodeId, MemberRecord>,
  suspected: ReadonlySet<NodeId>,
): boolean {
  return isConvicted({
    subject: { id: member.id, generation: member.generation, incarnation: member.incarnation },
    monitors,
    votesBy: (monitor) => records.get(monitor)?.votes.get(member.id),
    suspected: (monitor) => suspected.has(monitor),
    votesRequired: VOTES_REQUIRED_DEFAULT,
  });
}

/** The votes the voters hold against `id`. */
export function votesAgainst(
  voters: Iterable<NodeId>,
  records: ReadonlyMap<NodeId, MemberRecord>,
  id: NodeId,
): Vote[] {
  const against: Vote[] = [];
  for (const voter of voters) {
    const vote = records.get(voter)?.votes.get(id);
    if (vote !== undefined) against.push(vote);
  }
  return against;
}

/** Who changes side in one verdict pass: members newly down, and members up again. */
export interface LivenessChanges {
  readonly down: NodeId[];
  readonly up: NodeId[];
}

/**
 * What one verdict pass reads: the records, who is down now, and each member's effective monitors.
 */
export interface LivenessInputs {
  readonly self: NodeId;
  readonly records: ReadonlyMap<NodeId, MemberRecord>;
  readonly voters: Iterable<NodeId>;
  readonly down: ReadonlySet<NodeId>;
  /** Members whose current generation announced a clean stop (member-record.ts `shutdown`). */
  readonly shutdowns: ReadonlySet<NodeId>;
  readonly monitorsOf: (id: NodeId) => NodeId[];
}

/**
 * The verdict rule over every member that could change side. A member is down while convicted or
 * while its current generation has announced a clean stop: a shutdown needs no votes, it is the
 * member's own word. A monitor that announced a shutdown will cast no vote, so it counts as accused
 * (the requirement shrinks without it) rather than leaving its subjects unconvictable until its own
 * conviction. Only the accused, the shut down and the down can change side: the pass looks at
 * those.
 */
export function livenessChanges(inputs: LivenessInputs): LivenessChanges {
  const { records, down, shutdowns } = inputs;
  const suspected = suspectedMembers(inputs.voters, records);
  const silent = shutdowns.size === 0 ? suspected : new Set([...suspected, ...shutdowns]);
  const changes: LivenessChanges = { down: [], up: [] };
  for (const id of new Set([...suspected, ...down, ...shutdowns])) {
    const member = records.get(id);
    if (member === undefined || member.id === inputs.self) continue;
    const monitors = member.status === "left" ? [] : inputs.monitorsOf(member.id);
    const convicted =
      suspected.has(member.id) && isMemberConvicted(member, monitors, records, silent);
    const isDown = convicted || shutdowns.has(member.id);
    if (isDown && !down.has(member.id)) changes.down.push(member.id);
    else if (!isDown && down.has(member.id)) changes.up.push(member.id);
  }
  return changes;
}
