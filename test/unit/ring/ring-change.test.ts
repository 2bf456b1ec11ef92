import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { TOKEN_SPACE, type Token } from "../../../src/ring/partitioner.js";
import {
  pendingReplicasFor,
  rangeMovements,
  rangesNotReplicatedOn,
  replicasFor,
  type RangeMovement,
} from "../../../src/ring/placement.js";
import { rangeContains, TokenMap } from "../../../src/ring/token-map.js";
import { balancedTokens, randomTokens } from "../../../src/ring/tokens.js";

function ringOf(members: number, vnodes: number, seed: number): Map<string, Token[]> {
  const random = createRandom(seed);
  const owners = new Map<string, Token[]>();
  for (let index = 0; index < members; index++)
    owners.set(`n${index}`, randomTokens(random, vnodes));
  return owners;
}

function movementOf(movements: readonly RangeMovement[], token: Token): RangeMovement | undefined {
  return movements.find((movement) => rangeContains(movement, token));
}

function probeTokens(seed: number, count: number): Token[] {
  return randomTokens(createRandom(seed ^ 0x5bd1e995), count);
}

describe("ring changes: pending replicas and range movements", () => {
  it("a joining node is a pending replica exactly where it will be a replica, and movements say so", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (members, vnodes, rf, seed) => {
          const owners = ringOf(members, vnodes, seed);
          const current = TokenMap.build(owners);
          const future = TokenMap.build(
            new Map([
              ...owners,
              ["joiner", balancedTokens(current, vnodes, rf, createRandom(seed), "joiner")],
            ]),
          );
          const movements = rangeMovements(current, future, rf);
          for (const token of [
            ...probeTokens(seed, 200),
            ...current.tokens(),
            ...future.tokens(),
          ]) {
            const pending = pendingReplicasFor(current, future, token, rf);
            const willReplicate = replicasFor(future, token, rf).includes("joiner");
            // Only the joiner can gain a range when one node joins.
            expect(pending).toEqual(willReplicate ? ["joiner"] : []);
            const movement = movementOf(movements, token);
            expect(movement?.targets ?? []).toEqual(pending);
            if (movement !== undefined)
              expect(movement.sources).toEqual(replicasFor(current, token, rf));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a leaving node's ranges each move to the node that becomes their new replica", () => {
    const owners = ringOf(5, 16, 7);
    const current = TokenMap.build(owners);
    const future = TokenMap.build(new Map([...owners].filter(([id]) => id !== "n2")));
    const movements = rangeMovements(current, future, 3);
    expect(movements.length).toBeGreaterThan(0);
    for (const movement of movements) {
      expect(movement.sources).toContain("n2");
      expect(movement.targets).toHaveLength(1);
      expect(movement.targets).not.toContain("n2");
    }
    // Every token n2 replicated now has a movement; no other token does.
    for (const token of probeTokens(7, 2_000)) {
      expect(movementOf(movements, token) !== undefined).toBe(
        replicasFor(current, token, 3).includes("n2"),
      );
    }
  });

  it("movements do not overlap and nothing moves out of an empty ring or between equal rings", () => {
    const owners = ringOf(4, 8, 3);
    const current = TokenMap.build(owners);
    expect(rangeMovements(current, current, 3)).toEqual([]);
    expect(rangeMovements(TokenMap.empty, current, 3)).toEqual([]);
    const future = TokenMap.build(new Map([...owners, ["x", randomTokens(createRandom(99), 8)]]));
    const movements = rangeMovements(current, future, 2);
    for (const token of probeTokens(3, 1_000)) {
      expect(
        movements.filter((movement) => rangeContains(movement, token)).length,
      ).toBeLessThanOrEqual(1);
    }
  });

  it("cleanup ranges are exactly the ranges a node does not replicate", () => {
    const owners = ringOf(6, 16, 11);
    const ring = TokenMap.build(owners);
    const ranges = rangesNotReplicatedOn(ring, "n1", 3);
    let width = 0n;
    for (const range of ranges) width += (range.end - range.start + TOKEN_SPACE) % TOKEN_SPACE;
    expect(width).toBeGreaterThan(0n);
    for (const token of probeTokens(11, 2_000)) {
      const deleted = ranges.some((range) => rangeContains(range, token));
      expect(deleted).toBe(!replicasFor(ring, token, 3).includes("n1"));
    }
    // A node not on the ring, or a ring where everyone replicates everything, deletes nothing.
    expect(rangesNotReplicatedOn(ring, "stranger", 3)).toEqual([]);
    expect(rangesNotReplicatedOn(TokenMap.build(ringOf(3, 16, 2)), "n0", 3)).toEqual([]);
  });
});
