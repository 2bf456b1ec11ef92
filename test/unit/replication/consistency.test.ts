import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  ConsistencyError,
  consistencyToString,
  parseConsistency,
  quorumOf,
  readsSeeWrites,
  requiredReplicas,
  type ConsistencyLevel,
} from "../../../src/replication/consistency.js";
import { InvariantError } from "../../../src/core/assert.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;
const PROPERTY_RUNS = 300;

describe("consistency levels", () => {
  it("parses one, quorum and all in any case and with surrounding spaces", () => {
    expect(parseConsistency("one")).toBe("one");
    expect(parseConsistency("QUORUM")).toBe("quorum");
    expect(parseConsistency(" All ")).toBe("all");
  });

  it("parses replica counts as numbers", () => {
    expect(parseConsistency("1")).toBe(1);
    expect(parseConsistency("3", 3)).toBe(3);
    expect(parseConsistency("02", 3)).toBe(2);
  });

  it("refuses unknown levels, zero, negatives, fractions and counts above rf with ConsistencyError", () => {
    for (const bad of [
      "",
      "two",
      "quorum2",
      "0",
      "-1",
      "1.5",
      "1e1",
      "0x2",
      " ",
      "x".repeat(10_000),
      "33",
    ]) {
      expect(() => parseConsistency(bad), bad.slice(0, 20)).toThrow(ConsistencyError);
    }
    expect(() => parseConsistency("4", 3)).toThrow(ConsistencyError);
    expect(() => requiredReplicas(4, 3)).toThrow(ConsistencyError);
    expect(() => requiredReplicas(0, 3)).toThrow(ConsistencyError);
    expect(() => requiredReplicas(1.5, 3)).toThrow(ConsistencyError);
  });

  it("keeps an error message short even for a huge input", () => {
    try {
      parseConsistency("q".repeat(100_000));
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(200);
    }
  });

  it("needs 1, a majority, or all replicas for rf 1 to 5", () => {
    const expected: Record<number, { quorum: number }> = {
      1: { quorum: 1 },
      2: { quorum: 2 },
      3: { quorum: 2 },
      4: { quorum: 3 },
      5: { quorum: 3 },
    };
    for (let rf = 1; rf <= 5; rf++) {
      expect(requiredReplicas("one", rf)).toBe(1);
      expect(requiredReplicas("quorum", rf)).toBe(expected[rf]?.quorum);
      expect(quorumOf(rf)).toBe(expected[rf]?.quorum);
      expect(requiredReplicas("all", rf)).toBe(rf);
      for (let count = 1; count <= rf; count++) expect(requiredReplicas(count, rf)).toBe(count);
      expect(() => requiredReplicas(rf + 1, rf)).toThrow(ConsistencyError);
    }
  });

  it("makes quorum reads meet quorum writes, and one/one not, for rf 1 to 5", () => {
    for (let rf = 1; rf <= 5; rf++) {
      expect(readsSeeWrites("quorum", "quorum", rf)).toBe(true);
      expect(readsSeeWrites("one", "all", rf)).toBe(true);
      expect(readsSeeWrites("all", "one", rf)).toBe(true);
      expect(readsSeeWrites("one", "one", rf)).toBe(rf === 1);
    }
  });

  it("makes any two quorums of one replica set overlap (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }).chain((rf) =>
          fc.tuple(
            fc.constant(rf),
            fc.shuffledSubarray([...Array(rf).keys()], {
              minLength: quorumOf(rf),
              maxLength: quorumOf(rf),
            }),
            fc.shuffledSubarray([...Array(rf).keys()], {
              minLength: quorumOf(rf),
              maxLength: quorumOf(rf),
            }),
          ),
        ),
        ([rf, readers, writers]) => {
          expect(readers.some((replica) => writers.includes(replica))).toBe(true);
          expect(2 * quorumOf(rf)).toBeGreaterThan(rf);
          // ...and a quorum is the smallest count with that property.
          expect(2 * (quorumOf(rf) - 1)).toBeLessThanOrEqual(rf);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("reads back every level it writes as text (property)", () => {
    const level: fc.Arbitrary<ConsistencyLevel> = fc.oneof(
      fc.constantFrom("one", "quorum", "all"),
      fc.integer({ min: 1, max: 32 }),
    );
    fc.assert(
      fc.property(level, (value) => {
        expect(parseConsistency(consistencyToString(value))).toBe(value);
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("treats a replication factor outside 1..32 as a bug", () => {
    expect(() => requiredReplicas("one", 0)).toThrow(InvariantError);
    expect(() => quorumOf(2.5)).toThrow(InvariantError);
  });
});
