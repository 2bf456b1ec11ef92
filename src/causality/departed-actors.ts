// causality/departed-actors.ts — when a DVVSet entry of an actor that left the cluster may be
// dropped (issue 16 §1): the rule, and why it never resurrects nor drops a value.
//
// Entries are bounded by membership: actors are replica nodes, so a key's clock has at most one
// entry per node that ever coordinated a write of it. Members that left would stay there forever;
// this rule lets them go. An entry of a current member is never dropped.
//
// THE RULE. The entry (d, n, values) of actor d may be dropped from a clock C of a key when
//  (1) d is not a current member, and d is retired: it will never make another event, under any
//      id spelling, for any key (see "Actors are never reused" below);
//  (2) the entry holds no current values (values = []: every write d made of the key that C knows
//      was superseded by a write whose context saw it);
//  (3) no other copy of the key that may still merge with C holds a value of d: every replica's
//      clock, fallback copy, hint and range stream of the key (the caller's witnesses, `copies`).
//
// WHY NOTHING IS DROPPED. A value lives in the entry of the actor whose dot it has, and merge
// (dvvset.ts syncDvvSets) combines entries actor by actor, so removing d's entry can only change
// d's values in a later merge. C holds none (2), so C's values are unchanged, and no merge result
// loses a value of another actor. A context read from C afterwards lacks (d, n): a write with it
// supersedes no value of d, but there is none anywhere to supersede (2, 3), and d writes no more
// (1), so none will appear: the write keeps exactly what it kept with (d, n) in its context.
//
// WHY NOTHING IS RESURRECTED. The counter n is C's memory that d's events up to n were seen and
// discarded. Without it, a merge with a copy X holding (d, k ≤ n, [v]) keeps v: a value C had
// discarded comes back (dvvset.erl's reason for never pruning by size alone, and what the test
// "a naive prune resurrects" shows). Condition (3) says no such X exists, and (1) says none will
// be made; so forgetting n is never consulted again. An old client context naming (d, n) is
// harmless: a write with it puts (d, n, []) back into the clock (discardSeen), an entry without
// values that this rule drops again.
//
// Condition (2) alone is not enough: C may have superseded d's last value while another replica
// still holds it (the write that superseded it has not reached that replica yet). Merging that
// replica with the pruned C brings the value back. Hence (3), and hence this is the conservative
// version: the caller must prove (3) for every copy that can still merge with C — e.g. a repair
// that read the key's clock from all of its replicas while no hint or fallback copy of the key
// is outstanding, which is the data path's job (a later step), not this module's.
//
// ACTORS ARE NEVER REUSED. Condition (1) needs actor ids that no node will use again. A bare node
// id does not qualify in Grapevine: a removed member that restarts with a newer generation is a
// member again (cluster/removal.ts `covers`: a removal never beats a newer generation), and --id
// defaults to one derived from --advertise, so a new machine at the same address gets the same
// id. A node that came back under a pruned actor would count that actor's events from its stored
// clock of the key, which no longer has the entry: its next write would get a dot some replica
// has already seen and discarded, and be lost. (The same holds, pruning or not, for a node that
// lost its data directory.) So the data path must make actors unique per data directory (e.g. the
// node id with the generation of the start that created the directory, node/identity.ts
// `created`), and call an actor retired only once its data directory is gone for good (the
// member was removed or decommissioned). This module takes both sets as given.
//
// Pure and deterministic: no clock, no IO.

import type { Actor, DvvSet } from "./dvvset.js";

/** Who may make events: the current members' actors, and those known never to make one again. */
export interface ActorMembership {
  /** Actors of current members: their entries are never dropped. */
  readonly members: ReadonlySet<Actor>;
  /** Actors that will never make another event (their data directory is gone for good). */
  readonly retired: ReadonlySet<Actor>;
}

/** True when `copy` holds a current value made by `actor`. */
function holdsValueOf(copy: DvvSet<unknown>, actor: Actor): boolean {
  return copy.entries.some((entry) => entry.actor === actor && entry.values.length > 0);
}

/**
 * The actors whose entries the rule lets `clock` drop, given every other copy of the key that may
 * still merge with it (replicas, fallback copies, hints, streams: an incomplete list voids the
 * proof of the header comment).
 */
export function droppableActors(
  clock: DvvSet<unknown>,
  copies: readonly DvvSet<unknown>[],
  membership: ActorMembership,
): Actor[] {
  return clock.entries
    .filter(
      (entry) =>
        !membership.members.has(entry.actor) &&
        membership.retired.has(entry.actor) &&
        entry.values.length === 0 &&
        copies.every((copy) => !holdsValueOf(copy, entry.actor)),
    )
    .map((entry) => entry.actor);
}

/** `clock` without the entries the rule lets it drop (the same object when there are none). */
export function pruneDepartedActors<V>(
  clock: DvvSet<V>,
  copies: readonly DvvSet<unknown>[],
  membership: ActorMembership,
): DvvSet<V> {
  const droppable = new Set(droppableActors(clock, copies, membership));
  if (droppable.size === 0) return clock;
  return { entries: clock.entries.filter((entry) => !droppable.has(entry.actor)) };
}
