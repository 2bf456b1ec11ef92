// causality/dvvset.ts — dotted version vector sets (Almeida, Baquero, Gonçalves, Preguiça, Fonte,
// "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", 2014; Riak 2.0's
// dvvset.erl): one key's concurrent values with the causal history that orders them.
//
// A clock is a list of entries sorted by actor: (actor, counter, values), where counter is the
// number of events the actor has made for this key and values are the last `values.length` of them
// still current, newest first. Event n of actor a is the dot (a, n); value i of an entry (0 =
// newest) is the dot (a, counter - i). A context is the clock's version vector (actor → counter):
// what a client saw. Actors are replica nodes, never clients: a write goes to one replica of the
// key, which updates its own stored clock (read-modify-write in its write lane), so two writes
// never share a dot, and the number of entries is bounded by the replicas that ever coordinated a
// write of the key, not by clients or requests (the sibling explosion of plain version vectors).
//
// Unlike dvvset.erl there are no anonymous values (values without a dot): every write is made by a
// replica actor, so every value has one. Pure and deterministic: no clock, no chance.

import { assert } from "../core/assert.js";

export type Actor = string;

export interface DvvEntry<V> {
  readonly actor: Actor;
  /** Events this actor made for the key. */
  readonly counter: number;
  /** The current values among those events, newest first; never more than `counter`. */
  readonly values: readonly V[];
}

/** A key's values and their causal history, entries sorted by actor. */
export interface DvvSet<V> {
  readonly entries: readonly DvvEntry<V>[];
}

/** What a reader saw (actor → counter), sorted by actor: the context a write supersedes. */
export type VersionVector = readonly { readonly actor: Actor; readonly counter: number }[];

export function emptyDvvSet<V>(): DvvSet<V> {
  return { entries: [] };
}

/** Every current value: the key's siblings (one when there is no conflict). */
export function valuesOf<V>(clock: DvvSet<V>): V[] {
  return clock.entries.flatMap((entry) => entry.values);
}

/** Current values with their dots, newest first within each actor. */
export function dotsOf<V>(
  clock: DvvSet<V>,
): { readonly actor: Actor; readonly counter: number; readonly value: V }[] {
  return clock.entries.flatMap((entry) =>
    entry.values.map((value, index) => ({
      actor: entry.actor,
      counter: entry.counter - index,
      value,
    })),
  );
}

/** The clock's context: everything it has seen, as a version vector. */
export function contextOf<V>(clock: DvvSet<V>): VersionVector {
  return clock.entries.map(({ actor, counter }) => ({ actor, counter }));
}

/** Merges two replicas' clocks of one key: commutative, associative and idempotent. */
export function syncDvvSets<V>(left: DvvSet<V>, right: DvvSet<V>): DvvSet<V> {
  const entries: DvvEntry<V>[] = [];
  let i = 0;
  let j = 0;
  while (i < left.entries.length || j < right.entries.length) {
    const a = left.entries[i];
    const b = right.entries[j];
    if (b === undefined || (a !== undefined && a.actor < b.actor)) {
      entries.push(a as DvvEntry<V>);
      i++;
    } else if (a === undefined || b.actor < a.actor) {
      entries.push(b);
      j++;
    } else {
      entries.push(mergeEntries(a, b));
      i++;
      j++;
    }
  }
  return checked({ entries });
}

/**
 * One actor's entry from two clocks. The higher counter has seen every event of the lower; a value
 * survives if it is current in the clock with the higher counter and was not discarded by the other
 * (events above the other's counter minus its current values are ones the other has not seen, or
 * saw and kept). Equal histories keep the shorter (more discarded) list.
 */
function mergeEntries<V>(a: DvvEntry<V>, b: DvvEntry<V>): DvvEntry<V> {
  const [high, low] = a.counter >= b.counter ? [a, b] : [b, a];
  // The oldest event `low` still holds; events at or below `lowFloor` were discarded by `low`.
  const lowFloor = low.counter - low.values.length;
  const highFloor = high.counter - high.values.length;
  if (highFloor >= lowFloor) return high;
  // `low` discarded events that `high` still holds: keep only `high`'s values above lowFloor.
  return {
    actor: high.actor,
    counter: high.counter,
    values: high.values.slice(0, high.counter - lowFloor),
  };
}

/**
 * A write of `value` by replica `actor`, given the context the client read (empty for a write
 * without one): the values the context saw are discarded, the rest stay as siblings, and the new
 * value gets the actor's next dot. `stored` is the replica's current clock of the key.
 */
export function updateDvvSet<V>(
  stored: DvvSet<V>,
  context: VersionVector,
  actor: Actor,
  value: V,
): DvvSet<V> {
  const seen = discardSeen(stored, context);
  return checked(addEvent(seen, actor, value));
}

/**
 * The stored clock without the values `context` saw, and with its counters raised to the context's.
 */
export function discardSeen<V>(stored: DvvSet<V>, context: VersionVector): DvvSet<V> {
  const asClock: DvvSet<V> = {
    entries: context.map(({ actor, counter }) => ({ actor, counter, values: [] })),
  };
  return syncDvvSets(asClock, stored);
}

function addEvent<V>(clock: DvvSet<V>, actor: Actor, value: V): DvvSet<V> {
  const entries: DvvEntry<V>[] = [];
  let added = false;
  for (const entry of clock.entries) {
    if (!added && entry.actor === actor) {
      entries.push({ actor, counter: entry.counter + 1, values: [value, ...entry.values] });
      added = true;
    } else {
      if (!added && actor < entry.actor) {
        entries.push({ actor, counter: 1, values: [value] });
        added = true;
      }
      entries.push(entry);
    }
  }
  if (!added) entries.push({ actor, counter: 1, values: [value] });
  return { entries };
}

/** True when `a` has seen every event `b` has (a ≥ b as version vectors). */
export function descends<V, W>(a: DvvSet<V>, b: DvvSet<W>): boolean {
  return vectorDescends(contextOf(a), contextOf(b));
}

export function vectorDescends(a: VersionVector, b: VersionVector): boolean {
  let i = 0;
  for (const { actor, counter } of b) {
    while (i < a.length && (a[i] as { actor: Actor }).actor < actor) i++;
    const mine = a[i];
    if (mine === undefined || mine.actor !== actor || mine.counter < counter) return false;
  }
  return true;
}

/** Entries sorted by actor, counters positive, values never more than events. */
function checked<V>(clock: DvvSet<V>): DvvSet<V> {
  for (let index = 0; index < clock.entries.length; index++) {
    const entry = clock.entries[index] as DvvEntry<V>;
    assert(
      Number.isSafeInteger(entry.counter) && entry.counter >= 0,
      "a DVVSet counter is a natural number",
    );
    assert(entry.values.length <= entry.counter, "a DVVSet entry holds no more values than events");
    if (index > 0)
      assert(
        (clock.entries[index - 1] as DvvEntry<V>).actor < entry.actor,
        "DVVSet entries are sorted by actor, without repeats",
      );
  }
  return clock;
}
