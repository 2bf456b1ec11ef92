// detector/verdict.ts — the rule every node applies to the gossiped votes.
//
// Theory of operation. Monitors (monitors.ts) publish their convictions (failure-detector.ts) in
// gossip; every node applies this same pure rule to the same votes, so once gossip has converged
// all nodes agree on who is down without another round of messages (Rapid's "every node runs the
// same decision on the same alerts", without its consensus step).
//
// - A vote counts only against the subject's current generation and an incarnation at least the
//   current one: a restart (new generation) or a refutation (higher incarnation) voids older votes,
//   as SWIM's incarnation numbers do (Das, Gupta, Motivala, DSN 2002).
// - A subject is convicted when at least `votesRequired` of its monitors vote, so one monitor with
//   a bad link, or one stalled monitor, convicts nobody. Monitors that stand accused themselves
//   cannot be expected to vote, so the requirement shrinks to the number of unaccused monitors,
//   never below one: a 3-node cluster with two nodes down still convicts both from the one
//   survivor's votes.
// - A live member that sees valid votes against itself publishes a higher incarnation (SWIM's
//   refutation); its monitors also acquit it on its next heartbeat.
//
// Guarantees: deterministic, pure functions of their inputs.

import type { NodeId } from "../core/ids.js";
import type { SubjectRef, Vote } from "./failure-detector.js";

/** Two monitors must agree: one bad link or one confused monitor convicts nobody. */
export const VOTES_REQUIRED_DEFAULT = 2;

export interface VerdictInput {
  readonly subject: SubjectRef;
  /** The subject's monitors, as the monitor ring gives them. */
  readonly monitors: readonly NodeId[];
  /** That monitor's vote about this subject, if any. */
  readonly votesBy: (monitor: NodeId) => Vote | undefined;
  /** The monitor itself stands accused (has a valid vote against it). */
  readonly suspected: (monitor: NodeId) => boolean;
  readonly votesRequired: number;
}

/** A vote against `subject`'s current generation and incarnation (or a later incarnation). */
export function isValidVoteAgainst(subject: SubjectRef, vote: Vote): boolean {
  return (
    vote.subject === subject.id &&
    vote.generation === subject.generation &&
    vote.incarnation >= subject.incarnation
  );
}

/** Votes counted, and votes needed, for `input.subject`; see the theory of operation. */
export function tallyVotes(input: VerdictInput): { votes: number; required: number } {
  const monitors = [...new Set(input.monitors)].filter((monitor) => monitor !== input.subject.id);
  let votes = 0;
  let unaccused = 0;
  for (const monitor of monitors) {
    const vote = input.votesBy(monitor);
    if (vote !== undefined && isValidVoteAgainst(input.subject, vote)) votes += 1;
    if (!input.suspected(monitor)) unaccused += 1;
  }
  const required = Math.max(1, Math.min(input.votesRequired, unaccused));
  return { votes, required };
}

/** Whether enough of the subject's monitors convict its current generation and incarnation. */
export function isConvicted(input: VerdictInput): boolean {
  const { votes, required } = tallyVotes(input);
  return votes >= required;
}

/**
 * SWIM's refutation: a live node seeing valid votes against its current generation and incarnation
 * returns the incarnation to publish (the highest voted incarnation + 1); otherwise null.
 */
export function shouldRefute(self: SubjectRef, votesAgainst: readonly Vote[]): number | null {
  let highest: number | null = null;
  for (const vote of votesAgainst) {
    if (!isValidVoteAgainst(self, vote)) continue;
    highest = highest === null ? vote.incarnation : Math.max(highest, vote.incarnation);
  }
  return highest === null ? null : highest + 1;
}
