import { describe, it, expect } from "vitest";
import fc from "fast-check";
import type { NodeId } from "../../../src/core/ids.js";
import { createRandom } from "../../../src/core/random.js";
import { TOKEN_MAX, compareTokens, tokenOf, type Token } from "../../../src/ring/partitioner.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import {
  rangesReplicatedOn,
  replicasFor,
  replicatedRanges,
  sharedReplicasFor,
} from "../../../src/ring/placement.js";
import { randomTokens } from "../../../src/ring/tokens.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 424_242;
const PROPERTY_RUNS = 200;

function mapOf(entries: Record<NodeId, readonly Token[]>): TokenMap {
  return TokenMap.build(new Map(Object.entries(entries)));
}

/**
 * The reference walk: sort every winning claim, start at the first token >= token, collect distinct
 * owners.
 */
function bruteForceReplicas(
  owners: ReadonlyMap<NodeId, readonly Token[]>,
  token: Token,
  replicationFactor: number,
): NodeId[] {
  const winners = new Map<Token, NodeId>();
  for (const [owner, tokens] of owners) {
    for (const claimed of tokens) {
      const current = winners.get(claimed);
      if (current === undefined || owner < current) winners.set(claimed, owner);
    }
  }
  const ring = [...winners.entries()].sort((x, y) => compareTokens(x[0], y[0]));
  const startIndex = Math.max(
    0,
    ring.findIndex(([claimed]) => claimed >= token),
  );
  const replicas: NodeId[] = [];
  for (let step = 0; step < ring.length && replicas.length < replicationFactor; step++) {
    const entry = ring[(startIndex + step) % ring.length];
    if (entry && !replicas.includes(entry[1])) replicas.push(entry[1]);
  }
  return replicas;
}

const tokenArbitrary: fc.Arbitrary<Token> = fc.oneof(
  fc.bigInt({ min: 0n, max: TOKEN_MAX }),
  fc.constantFrom(0n, 1n, 2n ** 63n, TOKEN_MAX),
  fc.bigInt({ min: 0n, max: 20n }),
);

const ownersArbitrary: fc.Arbitrary<Map<NodeId, Token[]>> = fc
  .array(
    fc.tuple(
      fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
      fc.array(tokenArbitrary, { maxLength: 10 }),
    ),
    { maxLength: 7 },
  )
  .map((entries) => new Map(entries));

describe("replicasFor", () => {
  const ring = mapOf({ a: [10n, 40n], b: [20n, 50n], c: [30n], d: [60n] });
  // Ring order: 10 a, 20 b, 30 c, 40 a, 50 b, 60 d.

  it("puts the primary (the owner of the containing range) first, then walks clockwise", () => {
    expect(replicasFor(ring, 15n, 3)).toEqual(["b", "c", "a"]);
    expect(replicasFor(ring, 20n, 3)).toEqual(["b", "c", "a"]);
    expect(replicasFor(ring, 55n, 3)).toEqual(["d", "a", "b"]);
  });

  it("skips a node already chosen, so vnodes of one node count once", () => {
    // From 40 (a): 50 b, 60 d, then 10 a is skipped, 20 b skipped, 30 c.
    expect(replicasFor(ring, 35n, 4)).toEqual(["a", "b", "d", "c"]);
  });

  it("wraps past TOKEN_MAX to the first token", () => {
    expect(replicasFor(ring, 61n, 2)).toEqual(["a", "b"]);
    expect(replicasFor(ring, TOKEN_MAX, 2)).toEqual(["a", "b"]);
    expect(replicasFor(ring, 0n, 2)).toEqual(["a", "b"]);
  });

  it("returns every node once when the ring has fewer nodes than the replication factor", () => {
    expect(replicasFor(ring, 15n, 10)).toEqual(["b", "c", "a", "d"]);
    expect(replicasFor(mapOf({ solo: [5n, 9n] }), 7n, 3)).toEqual(["solo"]);
  });

  it("returns no replicas on the empty ring", () => {
    expect(replicasFor(TokenMap.empty, 1n, 3)).toEqual([]);
    expect(replicatedRanges(TokenMap.empty, 3)).toEqual([]);
  });

  it("rejects a replication factor below 1 or fractional", () => {
    expect(() => replicasFor(ring, 1n, 0)).toThrow();
    expect(() => replicasFor(ring, 1n, 1.5)).toThrow();
    expect(() => replicasFor(TokenMap.empty, 1n, 0)).toThrow();
  });

  it("hands each caller its own array, so mutating it cannot corrupt the cache", () => {
    const first = replicasFor(ring, 15n, 3);
    first.push("intruder");
    first[0] = "mallory";
    expect(replicasFor(ring, 15n, 3)).toEqual(["b", "c", "a"]);
  });

  it("shares one list per range and factor through sharedReplicasFor, computed once per ring", () => {
    const first = sharedReplicasFor(ring, 15n, 3);
    expect(sharedReplicasFor(ring, 19n, 3)).toBe(first);
    expect(sharedReplicasFor(ring, 15n, 2)).not.toBe(first);
    // Factors at or above the node count share one cache entry.
    expect(sharedReplicasFor(ring, 15n, 4)).toBe(sharedReplicasFor(ring, 15n, 32));
  });
});

describe("replicatedRanges", () => {
  it("gives one entry per range of ring.ranges(), in the same order, with the primary first", () => {
    const ring = mapOf({ a: [10n, 40n], b: [20n, 50n], c: [30n], d: [60n] });
    const replicated = replicatedRanges(ring, 2);
    expect(replicated.map((range) => [range.start, range.end])).toEqual(
      ring.ranges().map((range) => [range.start, range.end]),
    );
    replicated.forEach((range, index) =>
      expect(range.replicas[0]).toBe(ring.ranges()[index]?.owner),
    );
    expect(replicated.map((range) => range.replicas)).toEqual([
      ["a", "b"],
      ["b", "c"],
      ["c", "a"],
      ["a", "b"],
      ["b", "d"],
      ["d", "a"],
    ]);
  });

  it("rangesReplicatedOn keeps the ranges a node holds a replica of", () => {
    const ring = mapOf({ a: [10n, 40n], b: [20n, 50n], c: [30n], d: [60n] });
    expect(rangesReplicatedOn(ring, "d", 2).map((range) => range.end)).toEqual([50n, 60n]);
    expect(rangesReplicatedOn(ring, "nobody", 2)).toEqual([]);
  });
});

describe("placement properties", () => {
  it("matches a brute-force clockwise walk: min(rf, nodes) distinct replicas, primary = ownerOf", () => {
    fc.assert(
      fc.property(
        ownersArbitrary,
        fc.array(tokenArbitrary, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 9 }),
        (owners, probes, replicationFactor) => {
          const ring = TokenMap.build(owners);
          for (const token of probes) {
            const replicas = replicasFor(ring, token, replicationFactor);
            expect(replicas).toEqual(bruteForceReplicas(owners, token, replicationFactor));
            expect(new Set(replicas).size).toBe(replicas.length);
            expect(replicas).toHaveLength(Math.min(replicationFactor, ring.nodes().length));
            if (ring.size > 0) expect(replicas[0]).toBe(ring.ownerOf(token));
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("replicatedRanges agrees with replicasFor at every range's end", () => {
    fc.assert(
      fc.property(ownersArbitrary, fc.integer({ min: 1, max: 9 }), (owners, replicationFactor) => {
        const ring = TokenMap.build(owners);
        for (const range of replicatedRanges(ring, replicationFactor)) {
          expect(range.replicas).toEqual(replicasFor(ring, range.end, replicationFactor));
        }
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("places every key of a realistic ring (12 nodes × 16 vnodes, rf 3) on 3 distinct nodes", () => {
    const owners = new Map<NodeId, Token[]>();
    for (let node = 0; node < 12; node++)
      owners.set(`node-${node}`, randomTokens(createRandom(1000 + node), 16));
    const ring = TokenMap.build(owners);
    for (let i = 0; i < 2000; i++) {
      const token = tokenOf(`user:${i}`);
      const replicas = replicasFor(ring, token, 3);
      expect(replicas).toEqual(bruteForceReplicas(owners, token, 3));
    }
  });
});
