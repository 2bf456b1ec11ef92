import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fnvHash64Mod,
  KEY_COUNT_MAX,
  SCRAMBLED_ITEM_COUNT,
  SCRAMBLED_ZETAN,
  scrambledZipfianChooser,
  uniformChooser,
  zeta,
  ZIPFIAN_CONSTANT,
  zipfianChooser,
  type KeyChooser,
} from "../../../src/cli/bench/key-chooser.js";
import { createRandom } from "../../../src/core/random.js";

const SEED = 20_240_601;
console.log(`bench key-chooser tests: seed ${SEED}`);

/** YCSB's Utils.fnvhash64 with Java long semantics, written the slow obvious way. */
function javaFnvHash64(value: bigint): bigint {
  let hash = BigInt.asIntN(64, 0xcbf29ce484222325n);
  let rest = value;
  for (let i = 0; i < 8; i++) {
    const octet = rest & 0xffn;
    rest >>= 8n;
    hash = BigInt.asIntN(64, (hash ^ octet) * 1099511628211n);
  }
  return hash < 0n ? BigInt.asIntN(64, -hash) : hash;
}

function draw(chooser: KeyChooser, count: number): number[] {
  return Array.from({ length: count }, () => chooser.next());
}

function counts(draws: readonly number[]): Map<number, number> {
  const result = new Map<number, number>();
  for (const index of draws) result.set(index, (result.get(index) ?? 0) + 1);
  return result;
}

describe("fnvHash64Mod", () => {
  it("computes YCSB's fnvhash64(value) % modulus exactly, including Java's long overflow", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SCRAMBLED_ITEM_COUNT + 1 }),
        fc.integer({ min: 1, max: KEY_COUNT_MAX }),
        (value, modulus) => {
          const expected = Number(javaFnvHash64(BigInt(value)) % BigInt(modulus));
          expect(fnvHash64Mod(value, modulus)).toBe(expected);
        },
      ),
      { seed: SEED, numRuns: 2_000 },
    );
    for (const value of [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, SCRAMBLED_ITEM_COUNT]) {
      expect(fnvHash64Mod(value, KEY_COUNT_MAX)).toBe(
        Number(javaFnvHash64(BigInt(value)) % BigInt(KEY_COUNT_MAX)),
      );
    }
  });
});

describe("scrambled zipfian key chooser", () => {
  it("draws the same keys from the same seed and different keys from another", () => {
    const first = draw(scrambledZipfianChooser(10_000, createRandom(SEED)), 1_000);
    const again = draw(scrambledZipfianChooser(10_000, createRandom(SEED)), 1_000);
    const other = draw(scrambledZipfianChooser(10_000, createRandom(SEED + 1)), 1_000);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it("only draws keys in [0, keys), down to a single key", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: KEY_COUNT_MAX }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (keyCount, seed) => {
          const chooser = scrambledZipfianChooser(keyCount, createRandom(seed));
          for (let i = 0; i < 200; i++) {
            const index = chooser.next();
            expect(Number.isInteger(index) && index >= 0 && index < keyCount).toBe(true);
          }
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("gives the hottest item (fnv(0) mod keys) about 1/zeta(10^10, 0.99) ≈ 3.8% of draws, the next about half that", () => {
    const keyCount = 10_000;
    const draws = 200_000;
    const histogram = counts(draw(scrambledZipfianChooser(keyCount, createRandom(SEED)), draws));
    const ranked = [...histogram].sort((a, b) => b[1] - a[1]);
    const hottest = fnvHash64Mod(0, keyCount);
    const second = fnvHash64Mod(1, keyCount);
    expect(ranked[0]?.[0]).toBe(hottest);
    expect(ranked[1]?.[0]).toBe(second);
    const hottestShare = (histogram.get(hottest) ?? 0) / draws;
    const secondShare = (histogram.get(second) ?? 0) / draws;
    expect(1 / SCRAMBLED_ZETAN).toBeCloseTo(0.0378, 4);
    // Binomial σ ≈ 0.0004 at 200k draws; the bounds are ±0.003 around the expectation.
    expect(hottestShare).toBeGreaterThan(0.0348);
    expect(hottestShare).toBeLessThan(0.0408);
    const expectedSecond = 1 / (Math.pow(2, ZIPFIAN_CONSTANT) * SCRAMBLED_ZETAN);
    expect(Math.abs(secondShare - expectedSecond)).toBeLessThan(0.003);
    // Scrambling spreads the popularity: far fewer draws land on the low indexes than a plain
    // zipfian would put there.
    const lowIndexShare =
      [...histogram].filter(([index]) => index < 10).reduce((sum, [, count]) => sum + count, 0) /
      draws;
    expect(lowIndexShare).toBeLessThan(0.1);
  });
});

describe("plain zipfian (YCSB's ZipfianGenerator)", () => {
  it("draws item i with probability ∝ 1/(i+1)^0.99: item 0's share is 1/zeta(n, 0.99)", () => {
    const itemCount = 1_000;
    const draws = 100_000;
    const histogram = counts(draw(zipfianChooser({ itemCount }, createRandom(SEED)), draws));
    const expectedFirst = 1 / zeta(itemCount, ZIPFIAN_CONSTANT);
    expect(expectedFirst).toBeGreaterThan(0.12);
    expect(Math.abs((histogram.get(0) ?? 0) / draws - expectedFirst)).toBeLessThan(0.006);
    expect(
      Math.abs((histogram.get(1) ?? 0) / draws - expectedFirst / Math.pow(2, ZIPFIAN_CONSTANT)),
    ).toBeLessThan(0.005);
    expect(Math.max(...histogram.keys())).toBeLessThan(itemCount);
    expect(Math.min(...histogram.keys())).toBe(0);
  });
});

describe("uniform key chooser", () => {
  it("spreads draws evenly: every key within 20% of its expected count", () => {
    const keyCount = 100;
    const draws = 100_000;
    const histogram = counts(draw(uniformChooser(keyCount, createRandom(SEED)), draws));
    expect(histogram.size).toBe(keyCount);
    for (let index = 0; index < keyCount; index++) {
      const count = histogram.get(index) ?? 0;
      expect(count).toBeGreaterThan(800);
      expect(count).toBeLessThan(1_200);
    }
  });

  it("is deterministic with a seed and stays in range", () => {
    const first = draw(uniformChooser(7, createRandom(SEED)), 500);
    expect(draw(uniformChooser(7, createRandom(SEED)), 500)).toEqual(first);
    expect(first.every((index) => index >= 0 && index < 7 && Number.isInteger(index))).toBe(true);
  });
});
