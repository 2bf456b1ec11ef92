import { describe, it, expect } from "vitest";
import { createRandom, type Random } from "../../../src/core/random.js";
import { TOKEN_MAX, compareTokens } from "../../../src/ring/partitioner.js";
import { randomTokens } from "../../../src/ring/tokens.js";

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
