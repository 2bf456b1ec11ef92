import { describe, it, expect } from "vitest";
import { createRandom, type Random } from "../../../src/core/random.js";
import { TOKEN_MAX, TOKEN_SPACE, compareTokens } from "../../../src/ring/partitioner.js";
import {
  arcOf,
  balancedTokens,
  evenlySpacedTokens,
  randomTokens,
  tokensInFullestStretch,
} from "../../../src/ring/tokens.js";
import { TokenMap, rangeWidth } from "../../../src/ring/token-map.js";
import { replicatedRanges } from "../../../src/ring/placement.js";
import fc from "fast-check";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_261_204;

describe("randomTokens", () => {
  it("returns `count` distinct tokens in ascending order", () => {
    for (const seed of [1, 2, 3, 42, 0xdeadbeef]) {
      const tokens = randomTokens(createRandom(seed), 256);
      expect(tokens).toHaveLength(256);
      expect(new Set(tokens).size).toBe(256);
      expect([...tokens].sort(compareTokens)).toEqual(tokens);
      for (const token of tokens) expect(token >= 0n && token <= TOKEN_MAX).toBe(true);
    }
  });

  it("gives the same tokens for the same seed and different ones for another", () => {
    expect(randomTokens(createRandom(7), 16)).toEqual(randomTokens(createRandom(7), 16));
    expect(randomTokens(createRandom(7), 16)).not.toEqual(randomTokens(createRandom(8), 16));
  });

  it("uses all 64 bits: high and low words both vary", () => {
    const tokens = randomTokens(createRandom(11), 1000);
    expect(tokens.some((token) => token >= 2n ** 63n)).toBe(true);
    expect(tokens.some((token) => token < 2n ** 63n)).toBe(true);
    expect(new Set(tokens.map((token) => token & 0xffff_ffffn)).size).toBeGreaterThan(990);
    expect(new Set(tokens.map((token) => token >> 32n)).size).toBeGreaterThan(990);
  });

  it("returns nothing for a count of zero", () => {
    expect(randomTokens(createRandom(1), 0)).toEqual([]);
  });

  it("redraws a repeated token instead of returning fewer", () => {
    // Repeats the first token once, then continues with fresh words.
    const words = [0.5, 0.25, 0.5, 0.25, 0.75, 0.125];
    let index = 0;
    const scripted: Random = { next: () => words[index++] ?? 0.9 };
    const tokens = randomTokens(scripted, 2);
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(2);
    expect(index).toBe(6);
  });

  it("fails an assertion, rather than looping forever, on a source that never changes", () => {
    const stuck: Random = { next: () => 0.5 };
    expect(() => randomTokens(stuck, 2)).toThrow(/repeating/);
  });

  it("rejects a negative or fractional count", () => {
    expect(() => randomTokens(createRandom(1), -1)).toThrow();
    expect(() => randomTokens(createRandom(1), 1.5)).toThrow();
  });
});

describe("balancedTokens", () => {
  const RF = 3;

  /** Grows a ring one node at a time; returns the ring after each join. */
  function grow(nodes: number, seed: number, vnodes = 16, replicationFactor = RF): TokenMap[] {
    const random = createRandom(seed);
    const owners = new Map<string, bigint[]>();
    const rings: TokenMap[] = [];
    let ring = TokenMap.empty;
    for (let index = 1; index <= nodes; index++) {
      owners.set(
        `node${index}`,
        balancedTokens(ring, vnodes, replicationFactor, random, `node${index}`),
      );
      ring = TokenMap.build(owners);
      rings.push(ring);
    }
    return rings;
  }

  /** Largest |share − even| / even over the members, for primary and replicated ownership. */
  function worstDeviations(
    ring: TokenMap,
    replicationFactor: number,
  ): { primary: number; replicated: number } {
    const members = ring.nodes().length;
    const primary = [...ring.ownership().values()];
    const replicated = new Map<string, number>();
    for (const range of replicatedRanges(ring, replicationFactor)) {
      const width = Number(rangeWidth(range)) / 2 ** 64;
      for (const replica of range.replicas)
        replicated.set(replica, (replicated.get(replica) ?? 0) + width);
    }
    const even = 1 / members;
    const replicatedEven = Math.min(replicationFactor, members) / members;
    return {
      primary: Math.max(...primary.map((share) => Math.abs(share - even) / even)),
      replicated: Math.max(
        ...[...replicated.values()].map(
          (share) => Math.abs(share - replicatedEven) / replicatedEven,
        ),
      ),
    };
  }

  it("gives the first node of a cluster evenly spaced tokens from a random offset", () => {
    const tokens = evenlySpacedTokens(createRandom(3), 16);
    expect(tokens).toHaveLength(16);
    const step = 2n ** 64n / 16n;
    for (let index = 1; index < tokens.length; index++)
      expect((tokens[index] as bigint) - (tokens[index - 1] as bigint)).toBe(step);
    expect(evenlySpacedTokens(createRandom(4), 16)).not.toEqual(tokens);
  });

  /**
   * The worst replicated deviation from the mean left after removing each member in turn (nobody
   * else's tokens move).
   */
  function worstAfterRemoval(
    ring: TokenMap,
    replicationFactor: number,
  ): { deviation: number; removed: string } {
    let worst = { deviation: 0, removed: "" };
    for (const removed of ring.nodes()) {
      const left = TokenMap.build(
        new Map(
          ring
            .nodes()
            .filter((node) => node !== removed)
            .map((node) => [node, ring.tokensOf(node)]),
        ),
      );
      const deviation = worstDeviations(left, replicationFactor).replicated;
      if (deviation > worst.deviation) worst = { deviation, removed };
    }
    return worst;
  }

  /** Most of one node's tokens in any stretch of 1/(4·T) of the ring, over the ring's nodes. */
  function fullestStretch(ring: TokenMap): number {
    return Math.max(
      ...ring.nodes().map((node) => {
        const tokens = ring.tokensOf(node);
        return tokensInFullestStretch(tokens, TOKEN_SPACE / BigInt(4 * tokens.length));
      }),
    );
  }

  it("as a cluster grows from 3 to 64 nodes with 16 vnodes: no node has more than 2 tokens in a 1/64 stretch, primary and replicated (rf 3) ownership stay within ±10% of the mean, and removing any one member leaves replicated ownership within ±15%", () => {
    // The seed only places the first node's evenly spaced tokens; later joins are chosen against
    // the ring, so other seeds give nearly the same rings, rotated. With 3 nodes at rf 3 every node
    // holds everything, and removing one of 4 leaves 3 that do: those deviations are 0 by
    // arithmetic, and the test checks they are.
    const seed = 1;
    for (const ring of grow(64, seed).slice(2)) {
      const nodes = ring.nodes().length;
      const where = `seed=${seed}, ${nodes} nodes`;
      expect(
        fullestStretch(ring),
        `${where}, tokens in the fullest 1/64 stretch`,
      ).toBeLessThanOrEqual(2);
      const worst = worstDeviations(ring, RF);
      expect(worst.primary, `${where}, primary`).toBeLessThanOrEqual(0.1);
      expect(worst.replicated, `${where}, replicated`).toBeLessThanOrEqual(0.1);
      if (nodes === 3)
        expect(worst.replicated, `${where}: every node replicates the whole ring`).toBeLessThan(
          1e-9,
        );
      if (nodes < 4) continue;
      const after = worstAfterRemoval(ring, RF);
      expect(after.deviation, `${where}, after removing ${after.removed}`).toBeLessThanOrEqual(
        nodes === 4 ? 1e-9 : 0.15,
      );
    }
  }, 180_000);

  it("gives a joining node one token in each of T equal arcs, so no 1/(4T) stretch holds more than 2 of them, whatever ring it joins", () => {
    // Rings of random tokens stand for any ring an older allocator left, bunched tokens included.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (members, vnodes, rf, seed) => {
          const random = createRandom(seed);
          const owners = new Map<string, bigint[]>();
          for (let index = 0; index < members; index++)
            owners.set(`m${index}`, randomTokens(random, 1 + Math.floor(random.next() * 32)));
          const tokens = balancedTokens(TokenMap.build(owners), vnodes, rf, random, "new");
          expect(new Set(tokens.map((token) => arcOf(token, vnodes))).size, `seed=${seed}`).toBe(
            vnodes,
          );
          expect(
            tokensInFullestStretch(tokens, TOKEN_SPACE / BigInt(4 * vnodes)),
            `seed=${seed}`,
          ).toBeLessThanOrEqual(2);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 60 },
    );
  });

  it("keeps the spread bound as clusters grow to 16 nodes with 8 or 32 vnodes; ownership within ±10% at 32 vnodes, ±15% at 8", () => {
    // Eight tokens are too few for ±10%: each is an eighth of a node's share, and the bound on the
    // spread leaves each only its own arc (bench/token-allocation.ts shows the figures, removal
    // too).
    for (const [vnodes, bound] of [
      [8, 0.15],
      [32, 0.1],
    ] as const) {
      for (const ring of grow(16, 3, vnodes).slice(2)) {
        const where = `seed=3, ${vnodes} vnodes, ${ring.nodes().length} nodes`;
        expect(fullestStretch(ring), where).toBeLessThanOrEqual(2);
        const worst = worstDeviations(ring, RF);
        expect(worst.primary, `${where}, primary`).toBeLessThanOrEqual(bound);
        expect(worst.replicated, `${where}, replicated`).toBeLessThanOrEqual(bound);
      }
    }
  }, 120_000);

  it("never moves an existing member's tokens: the joined ring holds every old token with its old owner", () => {
    const ring = grow(6, 4).at(-1) as TokenMap;
    const joined = TokenMap.build(
      new Map([
        ...ring.nodes().map((node) => [node, ring.tokensOf(node)] as const),
        ["new", balancedTokens(ring, 16, RF, createRandom(4), "new")],
      ]),
    );
    for (const node of ring.nodes()) expect(joined.tokensOf(node)).toEqual(ring.tokensOf(node));
  });

  it("evens out replicated ownership better than random tokens do, summed over 4 to 16 nodes", () => {
    // Random tokens can be lucky at one size (4 nodes, seed 5: 8.7% against 9.4%), not at all of
    // them.
    for (const seed of [5, 6]) {
      const balanced = grow(16, seed);
      const random = createRandom(seed);
      const owners = new Map<string, bigint[]>();
      let randomSum = 0;
      let balancedSum = 0;
      for (let index = 1; index <= 16; index++) {
        owners.set(`node${index}`, randomTokens(random, 16));
        if (index < 4) continue;
        randomSum += worstDeviations(TokenMap.build(owners), RF).replicated;
        balancedSum += worstDeviations(balanced[index - 1] as TokenMap, RF).replicated;
      }
      expect(balancedSum, `seed ${seed}`).toBeLessThan(randomSum / 2);
    }
  });

  it("with replication factor 1 evens out primary ownership alone", () => {
    for (const ring of grow(12, 8, 16, 1))
      expect(worstDeviations(ring, 1).primary).toBeLessThanOrEqual(0.15);
  });

  it("returns `count` distinct ascending tokens, none already on the ring, for any ring and replication factor", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (members, vnodes, rf, seed) => {
          const random = createRandom(seed);
          const owners = new Map<string, bigint[]>();
          for (let index = 0; index < members; index++)
            owners.set(`m${index}`, randomTokens(random, vnodes));
          const ring = TokenMap.build(owners);
          const tokens = balancedTokens(ring, vnodes, rf, random, "new");
          expect(tokens).toHaveLength(vnodes);
          expect(new Set(tokens).size).toBe(vnodes);
          expect([...tokens].sort(compareTokens)).toEqual(tokens);
          const existing = new Set(ring.tokens());
          for (const token of tokens) expect(existing.has(token)).toBe(false);
          // The spread is not a property of arbitrary rings (a newcomer cannot undo the old
          // members' random tokens, and can reveal their imbalance); the grown-cluster tests above
          // check it.
        },
      ),
      { numRuns: 80 },
    );
  });

  it("is a function of the ring, the replication factor and the Random: the same inputs give the same tokens", () => {
    const ring = grow(5, 9).at(-1) as TokenMap;
    expect(balancedTokens(ring, 16, 3, createRandom(1), "x")).toEqual(
      balancedTokens(ring, 16, 3, createRandom(1), "x"),
    );
    expect(balancedTokens(ring, 16, 3, createRandom(1), "x")).not.toEqual(
      balancedTokens(ring, 16, 1, createRandom(1), "x"),
    );
  });

  it("splits a one-token ring and rejects bad input", () => {
    const ring = TokenMap.build(new Map([["only", [5n]]]));
    const tokens = balancedTokens(ring, 4, 3, createRandom(1), "new");
    expect(new Set([...tokens, 5n]).size).toBe(5);
    expect(() => balancedTokens(ring, 0, 3, createRandom(1), "new")).toThrow();
    expect(() => balancedTokens(ring, 4, 0, createRandom(1), "new")).toThrow();
    expect(() => balancedTokens(ring, 4, 3, createRandom(1), "only")).toThrow(/already owns/);
  });
});
