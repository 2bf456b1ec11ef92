// cluster/removal.ts — the removenode protocol as every view applies it.
//
// A member that is dead for good is removed by another member (removenode): the remover publishes
// `removals` in its own state — [id, generation, "removing" | "removed"] — since a member's own
// state can only be written by that member. Every view applies the same rule: a member being
// removed counts as leaving, a removed one as left and is no longer shown. A removal names the
// target's generation, so it never applies to the member once it restarts with a new one; it does
// apply to an older generation, which is only a stale copy of what the remover saw (gossip held by
// a node that missed the restart, or a member this node saved before the removal:
// saved-members.ts).

import type { MemberStatus, NodeId } from "../core/ids.js";

/** A removal published by a member: the target member's id and generation, and how far it got. */
export interface Removal {
  readonly id: NodeId;
  readonly generation: number;
  readonly phase: "removing" | "removed";
}

/**
 * Removals one member may publish: the few it drives, and the tombstones it republishes
 * (removal-book.ts, at most TOMBSTONES_MAX), so a restart never forgets a removal.
 */
export const REMOVALS_PER_MEMBER_MAX = 64;

/**
 * Whether `removal` covers a member's `generation`: the generation it names, or an older (stale)
 * one.
 */
export function covers(removal: Removal | undefined, generation: number): boolean {
  return removal !== undefined && generation <= removal.generation;
}

/** This node's removals with `removal` published (replacing an earlier one of the same target). */
export function withRemoval(removals: readonly Removal[], removal: Removal): Removal[] {
  return [...removals.filter((known) => known.id !== removal.id), removal].slice(
    -REMOVALS_PER_MEMBER_MAX,
  );
}

/**
 * Every member's removals, by target: the latest generation wins, and "removed" over "removing".
 */
export function latestRemovals(
  members: Iterable<{ readonly removals: readonly Removal[] }>,
): Map<NodeId, Removal> {
  const byTarget = new Map<NodeId, Removal>();
  for (const member of members) {
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
  return byTarget;
}

/** A member's status as a view acts on it: a removal published by anyone overrides its own. */
export function effectiveStatus(
  removal: Removal | undefined,
  generation: number,
  gossipStatus: MemberStatus,
): { status: MemberStatus; removed: boolean } {
  if (removal === undefined || !covers(removal, generation) || gossipStatus === "left") {
    return { status: gossipStatus, removed: false };
  }
  if (removal.phase === "removed") return { status: "left", removed: true };
  // A member that never became normal (a joiner that died) owns nothing to stream: it is out at
  // once.
  return { status: gossipStatus === "joining" ? "left" : "leaving", removed: false };
}

/** What effectiveStatus reads of a member, and the status and removal it last derived. */
interface Restatable {
  readonly id: NodeId;
  readonly generation: number;
  readonly gossipStatus: MemberStatus;
  readonly status: MemberStatus;
  readonly removed: boolean;
}

/** The members whose effective status the removals in `byTarget` change, before and after. */
export function restatedMembers<M extends Restatable>(
  members: Iterable<M>,
  byTarget: ReadonlyMap<NodeId, Removal>,
): { before: M; after: M }[] {
  const restated: { before: M; after: M }[] = [];
  for (const member of members) {
    const { generation, gossipStatus } = member;
    const { status, removed } = effectiveStatus(byTarget.get(member.id), generation, gossipStatus);
    if (status === member.status && removed === member.removed) continue;
    restated.push({ before: member, after: { ...member, status, removed } });
  }
  return restated;
}
