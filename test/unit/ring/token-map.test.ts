import { describe, it, expect } from "vitest";
import fc from "fast-check";
import type { NodeId } from "../../../src/core/ids.js";
import {
  TOKEN_MAX,
  TOKEN_SPACE,
  compareTokens,
  type Token,
} from "../../../src/ring/partitioner.js";
import { TokenMap, rangeContains, rangeWidth } from "../../../src/ring/token-map.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;
const PROPERTY_RUNS = 200;

const HALF = 2n ** 63n;
const QUARTER = 2n ** 62n;

function mapOf(entries: Record<NodeId, readonly Token[]>): TokenMap {
  return TokenMap.build(new Map(Object.entries(entries)));
}

/** Tokens that often collide and sit on the edges of the ring, mixed with uniform ones. */
const tokenArbitrary: fc.Arbitrary<Token> = fc.oneof(
  fc.bigInt({ min: 0n, max: TOKEN_MAX }),
  fc.constantFrom(0n, 1n, 2n, HALF, TOKEN_MAX - 1n, TOKEN_MAX),
  fc.bigInt({ min: 0n, max: 20n }),
  // Clusters narrower than a double's spacing there (2^11 near 2^63 and 2^64), so many tokens share
  // one Number() approximation and rangeIndexOf must settle them exactly.
  fc.bigInt({ min: HALF - 4096n, max: HALF + 4096n }),
  fc.bigInt({ min: TOKEN_MAX - 4096n, max: TOKEN_MAX }),
);

const ownersArbitrary: fc.Arbitrary<Map<NodeId, Token[]>> = fc
  .array(
    fc.tuple(
      fc.constantFrom("a", "b", "c", "d", "e", "f", "node-10", "node-9"),
      fc.array(tokenArbitrary, { maxLength: 12 }),
    ),
    {
      maxLength: 8,
    },
  )
  .map((entries) => new Map(entries));

/** The reference ring: every claimed token once, kept by the lowest claimant, ascending. */
function bruteForceRing(
  owners: ReadonlyMap<NodeId, readonly Token[]>,
): { token: Token; owner: NodeId }[] {
  const winners = new Map<Token, NodeId>();
  for (const [owner, tokens] of owners) {
    for (const token of tokens) {
      const current = winners.get(token);
      if (current === undefined || owner < current) winners.set(token, owner);
    }
  }
  return [...winners.entries()]
    .map(([token, owner]) => ({ token, owner }))
    .sort((x, y) => compareTokens(x.token, y.token));
}

/** The reference owner: the first token at or after `token`, else the first token of all. */
function bruteForceOwner(
  ring: readonly { token: Token; owner: NodeId }[],
  token: Token,
): NodeId | undefined {
  return (ring.find((entry) => entry.token >= token) ?? ring[0])?.owner;
}

describe("TokenMap.build", () => {
  it("builds the empty ring from no owners, or owners without tokens", () => {
    expect(TokenMap.build(new Map()).size).toBe(0);
    expect(mapOf({ a: [], b: [] }).equals(TokenMap.empty)).toBe(true);
    expect(TokenMap.empty.ranges()).toEqual([]);
    expect(TokenMap.empty.nodes()).toEqual([]);
    expect(TokenMap.empty.ownership().size).toBe(0);
  });

  it("refuses to answer ownerOf on the empty ring", () => {
    expect(() => TokenMap.empty.ownerOf(0n)).toThrow();
  });

  it("gives a token claimed by two nodes to the lower NodeId, whatever the insertion order", () => {
    const one = mapOf({ b: [10n, 30n], a: [10n, 20n] });
    const other = mapOf({ a: [20n, 10n], b: [30n, 10n] });
    expect(one.equals(other)).toBe(true);
    expect(one.size).toBe(3);
    expect(one.ownerOf(10n)).toBe("a");
    expect(one.ranges().map((range) => [range.end, range.owner])).toEqual([
      [10n, "a"],
      [20n, "a"],
      [30n, "b"],
    ]);
  });

  it("compares NodeIds in string order, not numeric order, for the tie-break", () => {
    // "node-10" < "node-9" as strings.
    expect(mapOf({ "node-9": [5n], "node-10": [5n] }).ownerOf(5n)).toBe("node-10");
  });

  it("drops a node that lost every one of its tokens to ties from nodes()", () => {
    const ring = mapOf({ a: [1n, 2n], z: [2n] });
    expect(ring.nodes()).toEqual(["a"]);
    expect(ring.tokensOf("z")).toEqual([]);
  });

  it("ignores a node repeating its own token", () => {
    expect(mapOf({ a: [7n, 7n, 7n] }).size).toBe(1);
  });

  it("rejects a token outside the ring", () => {
    expect(() => mapOf({ a: [-1n] })).toThrow();
    expect(() => mapOf({ a: [TOKEN_SPACE] })).toThrow();
  });
});

describe("TokenMap ranges", () => {
  it("makes one token the whole ring: start equals end and the width is the token space", () => {
    const ring = mapOf({ solo: [HALF] });
    expect(ring.ranges()).toEqual([{ start: HALF, end: HALF, owner: "solo" }]);
    const [range] = ring.ranges();
    expect(range && rangeWidth(range)).toBe(TOKEN_SPACE);
    for (const token of [0n, HALF - 1n, HALF, HALF + 1n, TOKEN_MAX])
      expect(ring.ownerOf(token)).toBe("solo");
    expect(ring.ownership()).toEqual(new Map([["solo", 1]]));
  });

  it("wraps the first range past TOKEN_MAX back through 0", () => {
    const ring = mapOf({ low: [10n], high: [20n] });
    expect(ring.ranges()).toEqual([
      { start: 20n, end: 10n, owner: "low" },
      { start: 10n, end: 20n, owner: "high" },
    ]);
    expect(ring.ownerOf(0n)).toBe("low");
    expect(ring.ownerOf(10n)).toBe("low");
    expect(ring.ownerOf(11n)).toBe("high");
    expect(ring.ownerOf(20n)).toBe("high");
    expect(ring.ownerOf(21n)).toBe("low");
    expect(ring.ownerOf(TOKEN_MAX)).toBe("low");
  });

  it("handles tokens on both ends of the ring: 0 and TOKEN_MAX", () => {
    const ring = mapOf({ zero: [0n], max: [TOKEN_MAX] });
    expect(ring.ownerOf(0n)).toBe("zero");
    expect(ring.ownerOf(1n)).toBe("max");
    expect(ring.ownerOf(TOKEN_MAX)).toBe("max");
    const ownership = ring.ownership();
    // zero owns (TOKEN_MAX, 0]: the single token 0. max owns everything else.
    expect(rangeWidth({ start: TOKEN_MAX, end: 0n })).toBe(1n);
    expect(ownership.get("zero")).toBe(1 / 2 ** 64);
    expect(ownership.get("max")).toBe(1);
  });

  it("works out ownership by hand: A at 2^62 and B at 2^63 own 3/4 and 1/4", () => {
    const ownership = mapOf({ A: [QUARTER], B: [HALF] }).ownership();
    expect(ownership).toEqual(
      new Map([
        ["A", 0.75],
        ["B", 0.25],
      ]),
    );
  });

  it("works out ownership by hand: tokens 0, 2^62, 2^63 give 1/2, 1/4, 1/4, and vnodes add up", () => {
    expect(mapOf({ x: [0n], y: [QUARTER], z: [HALF] }).ownership()).toEqual(
      new Map([
        ["x", 0.5],
        ["y", 0.25],
        ["z", 0.25],
      ]),
    );
    // x holds both 0 and 2^63: (2^63, 0] + (2^62, 2^63] = 1/2 + 1/4.
    expect(mapOf({ x: [0n, HALF], y: [QUARTER] }).ownership()).toEqual(
      new Map([
        ["x", 0.75],
        ["y", 0.25],
      ]),
    );
  });

  it("finds the exact range among tokens too close to tell apart as doubles", () => {
    // Near 2^63 doubles are 2^11 apart: all of these tokens have the same Number() value.
    const ring = mapOf({
      a: [HALF, HALF + 2n],
      b: [HALF + 1n, HALF + 3n],
      c: [TOKEN_MAX - 1n],
      d: [TOKEN_MAX],
    });
    expect(Number(HALF)).toBe(Number(HALF + 3n));
    expect(ring.ownerOf(HALF - 1n)).toBe("a");
    expect(ring.ownerOf(HALF)).toBe("a");
    expect(ring.ownerOf(HALF + 1n)).toBe("b");
    expect(ring.ownerOf(HALF + 2n)).toBe("a");
    expect(ring.ownerOf(HALF + 3n)).toBe("b");
    expect(ring.ownerOf(HALF + 4n)).toBe("c");
    expect(ring.ownerOf(TOKEN_MAX - 1n)).toBe("c");
    expect(ring.ownerOf(TOKEN_MAX)).toBe("d");
  });

  it("refuses to look up a bigint outside the ring", () => {
    const ring = mapOf({ a: [HALF] });
    expect(() => ring.ownerOf(-1n)).toThrow();
    expect(() => ring.ownerOf(TOKEN_SPACE)).toThrow();
    expect(() => ring.ownerOf(TOKEN_SPACE + 4096n)).toThrow();
  });

  it("lists nodes distinct and sorted, and tokensOf each in ascending order", () => {
    const ring = mapOf({ c: [50n, 5n], a: [30n], b: [40n, 10n] });
    expect(ring.nodes()).toEqual(["a", "b", "c"]);
    expect(ring.tokensOf("b")).toEqual([10n, 40n]);
    expect(ring.tokens()).toEqual([5n, 10n, 30n, 40n, 50n]);
  });

  it("rangeContains agrees with the half-open (start, end] rule, wrapping included", () => {
    expect(rangeContains({ start: 10n, end: 20n }, 10n)).toBe(false);
    expect(rangeContains({ start: 10n, end: 20n }, 20n)).toBe(true);
    expect(rangeContains({ start: 20n, end: 10n }, 0n)).toBe(true);
    expect(rangeContains({ start: 20n, end: 10n }, 15n)).toBe(false);
    expect(rangeContains({ start: 20n, end: 10n }, TOKEN_MAX)).toBe(true);
    expect(rangeContains({ start: 7n, end: 7n }, 3n)).toBe(true);
  });
});

describe("TokenMap properties", () => {
  it("ranges cover the ring exactly once, in ascending `end`, each owned by the owner of its end", () => {
    fc.assert(
      fc.property(ownersArbitrary, (owners) => {
        const ring = TokenMap.build(owners);
        const reference = bruteForceRing(owners);
        const ranges = ring.ranges();
        expect(ranges.map((range) => range.end)).toEqual(reference.map((entry) => entry.token));
        expect(ranges.map((range) => range.owner)).toEqual(reference.map((entry) => entry.owner));
        if (ranges.length === 0) return;
        const covered = ranges.reduce((sum, range) => sum + rangeWidth(range), 0n);
        expect(covered).toBe(TOKEN_SPACE);
        ranges.forEach((range, index) => {
          const previous = ranges[(index + ranges.length - 1) % ranges.length];
          expect(range.start).toBe(previous?.end);
        });
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("ownerOf agrees with a brute-force scan, and exactly one range contains each token", () => {
    fc.assert(
      fc.property(
        ownersArbitrary,
        fc.array(tokenArbitrary, { minLength: 1, maxLength: 20 }),
        (owners, probes) => {
          const ring = TokenMap.build(owners);
          fc.pre(ring.size > 0);
          const reference = bruteForceRing(owners);
          const around = ring
            .tokens()
            .flatMap((token) => [
              token,
              token === 0n ? TOKEN_MAX : token - 1n,
              token === TOKEN_MAX ? 0n : token + 1n,
            ]);
          for (const token of [...probes, ...around]) {
            expect(ring.ownerOf(token)).toBe(bruteForceOwner(reference, token));
            const containing = ring.ranges().filter((range) => rangeContains(range, token));
            expect(containing).toHaveLength(1);
            expect(containing[0]).toBe(ring.ranges()[ring.rangeIndexOf(token)]);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("ownership sums to 1 and matches each node's summed range widths", () => {
    fc.assert(
      fc.property(ownersArbitrary, (owners) => {
        const ring = TokenMap.build(owners);
        fc.pre(ring.size > 0);
        const ownership = ring.ownership();
        expect([...ownership.keys()]).toEqual(ring.nodes());
        const total = [...ownership.values()].reduce((sum, fraction) => sum + fraction, 0);
        expect(Math.abs(total - 1)).toBeLessThan(1e-9);
        for (const node of ring.nodes()) {
          const width = ring
            .ranges()
            .filter((range) => range.owner === node)
            .reduce((sum, range) => sum + rangeWidth(range), 0n);
          expect(ownership.get(node)).toBeCloseTo(Number(width) / 2 ** 64, 12);
        }
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("is deterministic: the same claims in any order build equal maps", () => {
    fc.assert(
      fc.property(ownersArbitrary, (owners) => {
        const reversed = new Map(
          [...owners.entries()].reverse().map(([node, tokens]) => [node, [...tokens].reverse()]),
        );
        expect(TokenMap.build(reversed).equals(TokenMap.build(owners))).toBe(true);
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("equals tells apart maps that differ in one token or one owner", () => {
    const base = mapOf({ a: [1n, 3n], b: [2n] });
    expect(base.equals(mapOf({ b: [2n], a: [3n, 1n] }))).toBe(true);
    expect(base.equals(mapOf({ a: [1n, 4n], b: [2n] }))).toBe(false);
    expect(base.equals(mapOf({ a: [1n], b: [2n, 3n] }))).toBe(false);
    expect(base.equals(mapOf({ a: [1n, 3n] }))).toBe(false);
  });
});
