// Dotted version vector sets (src/causality/dvvset.ts), checked against causal histories kept by
// hand: replicas take writes (each with the context a client read from some replica) and sync with
// each other in random orders, and after every step each replica's values must be exactly the
// writes it knows that no write it knows has seen. Merge must be commutative, associative and
// idempotent on every clock such runs produce.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  contextOf,
  descends,
  dotsOf,
  emptyDvvSet,
  syncDvvSets,
  updateDvvSet,
  valuesOf,
  type DvvSet,
} from "../../../src/causality/dvvset.js";

// Fixed so a failure reproduces; fast-check prints the seed and the shrunk counterexample too.
const SEED = 15_016;
const RUNS = 300;
const ACTORS = ["a", "b", "c", "d"];

type Step =
  | { readonly kind: "write"; readonly replica: number; readonly readFrom: number | null }
  | { readonly kind: "sync"; readonly replica: number; readonly from: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    replica: fc.nat({ max: ACTORS.length - 1 }),
    readFrom: fc.option(fc.nat({ max: ACTORS.length - 1 }), { nil: null }),
  }),
  fc.record({
    kind: fc.constant("sync" as const),
    replica: fc.nat({ max: ACTORS.length - 1 }),
    from: fc.nat({ max: ACTORS.length - 1 }),
  }),
);

interface Replica {
  clock: DvvSet<number>;
  /** Every write whose effect reached this replica. */
  known: Set<number>;
}

interface Run {
  readonly replicas: Replica[];
  /**
   * Each write's causal past (transitively closed): the writes its context had seen, itself
   * excluded.
   */
  readonly seen: Map<number, Set<number>>;
}

/** The writes a replica knows that no write it knows has seen: what it must hold as values. */
function maximal(replica: Replica, seen: Map<number, Set<number>>): number[] {
  const superseded = new Set<number>();
  for (const write of replica.known) for (const past of seen.get(write) ?? []) superseded.add(past);
  return [...replica.known].filter((write) => !superseded.has(write)).sort((x, y) => x - y);
}

function run(steps: readonly Step[], check: (run: Run) => void = () => undefined): Run {
  const replicas: Replica[] = ACTORS.map(() => ({
    clock: emptyDvvSet<number>(),
    known: new Set<number>(),
  }));
  const seen = new Map<number, Set<number>>();
  let next = 0;
  for (const step of steps) {
    const replica = replicas[step.replica] as Replica;
    if (step.kind === "write") {
      const write = next++;
      const source = step.readFrom === null ? null : (replicas[step.readFrom] as Replica);
      const context = source === null ? [] : contextOf(source.clock);
      replica.clock = updateDvvSet(replica.clock, context, ACTORS[step.replica] as string, write);
      // A context carries its whole causal past: what the source knows and what each of those saw.
      const past = new Set<number>();
      for (const known of source?.known ?? []) {
        past.add(known);
        for (const earlier of seen.get(known) ?? []) past.add(earlier);
      }
      seen.set(write, past);
      replica.known = new Set([...replica.known, write]);
    } else {
      const from = replicas[step.from] as Replica;
      replica.clock = syncDvvSets(replica.clock, from.clock);
      replica.known = new Set([...replica.known, ...from.known]);
    }
    check({ replicas, seen });
  }
  return { replicas, seen };
}

const sorted = (values: number[]): number[] => [...values].sort((x, y) => x - y);

describe("DVVSet", () => {
  it("holds exactly the writes no other known write has seen, after every write and every sync", () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 60 }), (steps) => {
        run(steps, ({ replicas, seen }) => {
          for (const replica of replicas)
            expect(sorted(valuesOf(replica.clock))).toEqual(maximal(replica, seen));
        });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("merges commutatively, associatively and idempotently", () => {
    fc.assert(
      fc.property(
        fc.array(stepArbitrary, { maxLength: 60 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (steps, i, j, k) => {
          const clocks = run(steps).replicas.map((replica) => replica.clock);
          const x = clocks[i % clocks.length] as DvvSet<number>;
          const y = clocks[j % clocks.length] as DvvSet<number>;
          const z = clocks[k % clocks.length] as DvvSet<number>;
          expect(syncDvvSets(x, y)).toEqual(syncDvvSets(y, x));
          expect(syncDvvSets(syncDvvSets(x, y), z)).toEqual(syncDvvSets(x, syncDvvSets(y, z)));
          expect(syncDvvSets(x, x)).toEqual(x);
          const merged = syncDvvSets(x, y);
          expect(descends(merged, x) && descends(merged, y)).toBe(true);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("keeps entries bounded by the actors, and every value with its own dot", () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 80 }), (steps) => {
        for (const { clock } of run(steps).replicas) {
          expect(clock.entries.length).toBeLessThanOrEqual(ACTORS.length);
          const dots = dotsOf(clock).map(({ actor, counter }) => `${actor}:${counter}`);
          expect(new Set(dots).size).toBe(dots.length);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("makes two writes with the same context siblings, and a write with both in its context replaces them", () => {
    const base = updateDvvSet(emptyDvvSet<string>(), [], "a", "v0");
    const context = contextOf(base);
    const left = updateDvvSet(base, context, "a", "left");
    const right = updateDvvSet(base, context, "b", "right");
    const both = syncDvvSets(left, right);
    expect(valuesOf(both).sort()).toEqual(["left", "right"]);
    const resolved = updateDvvSet(both, contextOf(both), "b", "resolved");
    expect(valuesOf(resolved)).toEqual(["resolved"]);
    // The same replica taking both writes with one context keeps both too.
    const again = updateDvvSet(left, context, "a", "again");
    expect(valuesOf(again).sort()).toEqual(["again", "left"]);
  });

  it("keeps the stored values beside a write without a context, as Riak does", () => {
    const stored = updateDvvSet(emptyDvvSet<string>(), [], "a", "first");
    const blind = updateDvvSet(stored, [], "a", "second");
    expect(valuesOf(blind).sort()).toEqual(["first", "second"]);
  });
});
