// The rule for dropping the DVVSet entries of departed actors (src/causality/departed-actors.ts):
// it never drops a current member's entry nor an entry with values, and it changes no outcome:
// two worlds run the same writes and syncs after an actor left, one pruning its entries whenever
// the rule allows, and every replica holds the same values in both after every step. A naive prune
// (values empty here, but not on another replica) is shown to resurrect a superseded value.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { droppableActors, pruneDepartedActors } from "../../../src/causality/departed-actors.js";
import {
  contextOf,
  emptyDvvSet,
  syncDvvSets,
  updateDvvSet,
  valuesOf,
  type DvvSet,
} from "../../../src/causality/dvvset.js";

const SEED = 16_001;
const RUNS = 300;
/** Actors a, b and c stay; d departs after the first phase. */
const ACTORS = ["a", "b", "c", "d"];
const STAYING = 3;
const MEMBERSHIP = { members: new Set(["a", "b", "c"]), retired: new Set(["d"]) };

type Step =
  | { readonly kind: "write"; readonly replica: number; readonly readFrom: number | null }
  | { readonly kind: "sync"; readonly replica: number; readonly from: number }
  /** The replica syncs from every other, then writes with its whole context: one value left. */
  | { readonly kind: "resolve"; readonly replica: number }
  | { readonly kind: "prune"; readonly replica: number };

function stepArbitrary(replicas: number): fc.Arbitrary<Step> {
  const replica = fc.nat({ max: replicas - 1 });
  return fc.oneof(
    fc.record({
      kind: fc.constant("write" as const),
      replica,
      readFrom: fc.option(replica, { nil: null }),
    }),
    fc.record({ kind: fc.constant("sync" as const), replica, from: replica }),
    fc.record({ kind: fc.constant("resolve" as const), replica }),
    fc.record({ kind: fc.constant("prune" as const), replica }),
  );
}

interface World {
  clocks: DvvSet<number>[];
  pruning: boolean;
  pruned: number;
}

function apply(world: World, step: Step, write: number): void {
  const { clocks } = world;
  const mine = clocks[step.replica] as DvvSet<number>;
  const actor = ACTORS[step.replica] as string;
  if (step.kind === "write") {
    const context =
      step.readFrom === null ? [] : contextOf(clocks[step.readFrom] as DvvSet<number>);
    clocks[step.replica] = updateDvvSet(mine, context, actor, write);
  } else if (step.kind === "sync") {
    clocks[step.replica] = syncDvvSets(mine, clocks[step.from] as DvvSet<number>);
  } else if (step.kind === "resolve") {
    const all = clocks.reduce((merged, clock) => syncDvvSets(merged, clock));
    clocks[step.replica] = updateDvvSet(all, contextOf(all), actor, write);
  } else if (world.pruning) {
    const copies = clocks.filter((_, index) => index !== step.replica);
    const pruned = pruneDepartedActors(mine, copies, MEMBERSHIP);
    world.pruned += mine.entries.length - pruned.entries.length;
    clocks[step.replica] = pruned;
  }
}

const sortedValues = (clock: DvvSet<number>): number[] => valuesOf(clock).sort((x, y) => x - y);

/** Random clocks from random histories of all four actors. */
function clocksOf(steps: readonly Step[]): DvvSet<number>[] {
  const world: World = { clocks: ACTORS.map(() => emptyDvvSet()), pruning: false, pruned: 0 };
  steps.forEach((step, index) => apply(world, step, index));
  return world.clocks;
}

describe("dropping departed actors' entries", () => {
  it("changes no replica's values, after every later write, sync, resolution and prune", () => {
    let prunedEntries = 0;
    fc.assert(
      fc.property(
        fc.array(stepArbitrary(ACTORS.length), { maxLength: 30 }),
        fc.nat({ max: STAYING - 1 }),
        fc.array(stepArbitrary(STAYING), { maxLength: 40 }),
        (before, handoff, after) => {
          const start = clocksOf(before);
          // d leaves: one staying replica takes its data over, and its replica is gone.
          start[handoff] = syncDvvSets(
            start[handoff] as DvvSet<number>,
            start[3] as DvvSet<number>,
          );
          const kept: World = { clocks: start.slice(0, STAYING), pruning: false, pruned: 0 };
          const pruning: World = { clocks: start.slice(0, STAYING), pruning: true, pruned: 0 };
          after.forEach((step, index) => {
            apply(kept, step, before.length + index);
            apply(pruning, step, before.length + index);
            for (let replica = 0; replica < STAYING; replica++)
              expect(sortedValues(pruning.clocks[replica] as DvvSet<number>)).toEqual(
                sortedValues(kept.clocks[replica] as DvvSet<number>),
              );
          });
          const merged = (world: World): DvvSet<number> =>
            world.clocks.reduce((left, right) => syncDvvSets(left, right));
          expect(sortedValues(merged(pruning))).toEqual(sortedValues(merged(kept)));
          prunedEntries += pruning.pruned;
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    // The property is not vacuous: the rule did drop entries in many runs.
    expect(prunedEntries).toBeGreaterThan(RUNS / 10);
  });

  it("never drops a current member's entry, an entry with values, or one whose value a copy holds", () => {
    const subset = fc.subarray(ACTORS).map((actors) => new Set(actors));
    fc.assert(
      fc.property(
        fc.array(stepArbitrary(ACTORS.length), { maxLength: 40 }),
        subset,
        subset,
        fc.nat({ max: ACTORS.length - 1 }),
        (steps, members, retired, which) => {
          const clocks = clocksOf(steps);
          const clock = clocks[which] as DvvSet<number>;
          const copies = clocks.filter((_, index) => index !== which);
          const dropped = new Set(droppableActors(clock, copies, { members, retired }));
          const pruned = pruneDepartedActors(clock, copies, { members, retired });
          for (const entry of clock.entries) {
            const mustKeep =
              members.has(entry.actor) ||
              !retired.has(entry.actor) ||
              entry.values.length > 0 ||
              copies.some((copy) =>
                copy.entries.some((e) => e.actor === entry.actor && e.values.length > 0),
              );
            expect(dropped.has(entry.actor)).toBe(!mustKeep);
            expect(pruned.entries.includes(entry)).toBe(!dropped.has(entry.actor));
          }
          expect(valuesOf(pruned)).toEqual(valuesOf(clock));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("keeps an entry whose value another replica still holds: a naive prune resurrects it", () => {
    const base = updateDvvSet(emptyDvvSet<string>(), [], "d", "old");
    // Replica a superseded d's value; replica b has not heard of that write yet.
    const a = updateDvvSet(base, contextOf(base), "a", "new");
    const b = base;
    expect(a.entries.find((entry) => entry.actor === "d")?.values).toEqual([]);
    expect(valuesOf(syncDvvSets(a, b))).toEqual(["new"]);
    const naive: DvvSet<string> = { entries: a.entries.filter((entry) => entry.actor !== "d") };
    expect(valuesOf(syncDvvSets(naive, b)).sort()).toEqual(["new", "old"]);
    expect(pruneDepartedActors(a, [b], MEMBERSHIP)).toBe(a);
    // Once b has merged past it, the entry may go, and nothing comes back.
    const caughtUp = syncDvvSets(b, a);
    const pruned = pruneDepartedActors(a, [caughtUp], MEMBERSHIP);
    expect(pruned.entries.map((entry) => entry.actor)).toEqual(["a"]);
    expect(valuesOf(syncDvvSets(pruned, caughtUp))).toEqual(["new"]);
  });

  it("keeps a departed actor's entry unless it is retired, and a member's even if listed retired", () => {
    const base = updateDvvSet(emptyDvvSet<string>(), [], "d", "old");
    const clock = updateDvvSet(base, contextOf(base), "a", "new");
    expect(droppableActors(clock, [], { members: new Set(["a"]), retired: new Set() })).toEqual([]);
    const both = { members: new Set(["a", "d"]), retired: new Set(["d"]) };
    expect(droppableActors(clock, [], both)).toEqual([]);
    expect(droppableActors(clock, [], MEMBERSHIP)).toEqual(["d"]);
  });
});
