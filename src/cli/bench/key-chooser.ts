// cli/bench/key-chooser.ts — which record each operation touches, the way YCSB's core workload
// chooses it (Cooper et al., "Benchmarking Cloud Serving Systems with YCSB", SoCC 2010).
//
// Theory of operation. A chooser holds no state beyond its seeded Random and a few constants, and
// returns an index in [0, keys). `uniform` draws every record with the same chance. `zipfian` is
// YCSB's ScrambledZipfianGenerator, the default of its workloads a-c: a Zipfian draw with constant
// 0.99 over a fixed space of 10^10 items (Gray et al.'s algorithm from "Quickly Generating
// Billion-Record Synthetic Databases", SIGMOD 1994, with YCSB's precomputed zeta for that space),
// then the item is scrambled with 64-bit FNV-1a (YCSB's Utils.fnvhash64, including its Java long
// overflow and Math.abs) and reduced modulo the record count. Scrambling spreads the popular items
// over the key space instead of bunching them at the low indexes, so the hot keys land on different
// token ranges and therefore different replicas, as in YCSB. The hottest record is
// fnv(0) mod keys and draws 1/zeta ≈ 3.8% of operations.
//
// The 64-bit FNV arithmetic is done on two 32-bit halves because this is on the generator's hot
// path (one call per operation) and BigInt would allocate on every step.

import { assert } from "../../core/assert.js";
import { randomInt, type Random } from "../../core/random.js";

export const KEY_DISTRIBUTIONS = ["zipfian", "uniform"] as const;
export type KeyDistribution = (typeof KEY_DISTRIBUTIONS)[number];

/** YCSB's ZipfianGenerator.ZIPFIAN_CONSTANT: the skew of its core workloads. */
export const ZIPFIAN_CONSTANT = 0.99;
/** YCSB's ScrambledZipfianGenerator.ITEM_COUNT: the Zipfian draw happens over this many items. */
export const SCRAMBLED_ITEM_COUNT = 10_000_000_000;
/**
 * YCSB's ScrambledZipfianGenerator.ZETAN: zeta(ITEM_COUNT, 0.99), precomputed (summing 10^10 terms
 * takes minutes).
 */
export const SCRAMBLED_ZETAN = 26.46902820178302;
/**
 * The largest record count a chooser accepts: the scrambling's remainder multiplies two numbers
 * below it, which must stay below 2^53 to be exact; and loading more records than this through HTTP
 * takes hours, which is not a benchmark anyone runs by accident.
 */
export const KEY_COUNT_MAX = 50_000_000;

export interface KeyChooser {
  /** A record index in [0, keyCount). */
  next(): number;
}

const TWO_POW_32 = 0x1_0000_0000;
// FNV-1a 64-bit offset basis 0xcbf29ce484222325, split into halves.
const FNV_OFFSET_HIGH = 0xcbf29ce4;
const FNV_OFFSET_LOW = 0x84222325;
// The 64-bit FNV prime is 2^40 + 0x1b3: a multiply is a shift by 40 plus a multiply by 0x1b3.
const FNV_PRIME_LOW_PART = 0x1b3;

/**
 * YCSB's `Utils.fnvhash64(value) % modulus` for a non-negative integer `value` < 2^53: FNV over the
 * value's 8 little-endian octets, Java long wrap-around, `Math.abs` of the signed result, then the
 * remainder. (Math.abs(Long.MIN_VALUE) stays negative in Java; that one value in 2^64 is taken as
 * its magnitude here, which no test or benchmark can tell apart.)
 */
export function fnvHash64Mod(value: number, modulus: number): number {
  assert(
    Number.isSafeInteger(value) && value >= 0,
    () => `fnvHash64Mod needs a non-negative safe integer, got ${value}`,
  );
  assert(
    Number.isSafeInteger(modulus) && modulus > 0 && modulus <= KEY_COUNT_MAX,
    () => `bad modulus ${modulus}`,
  );
  let high = FNV_OFFSET_HIGH;
  let low = FNV_OFFSET_LOW;
  let valueLow = value % TWO_POW_32;
  let valueHigh = Math.floor(value / TWO_POW_32);
  for (let i = 0; i < 8; i++) {
    const octet = valueLow & 0xff;
    valueLow = (valueLow >>> 8) | ((valueHigh & 0xff) << 24);
    valueHigh >>>= 8;
    low = (low ^ octet) >>> 0;
    // (high·2^32 + low) · (2^40 + 0x1b3) mod 2^64
    const lowProduct = low * FNV_PRIME_LOW_PART; // < 2^41: exact in a double
    const carry = Math.floor(lowProduct / TWO_POW_32);
    const nextLow = lowProduct >>> 0;
    high = (Math.imul(high, FNV_PRIME_LOW_PART) + carry + ((low << 8) >>> 0)) >>> 0;
    low = nextLow;
  }
  // Java's Math.abs of the signed 64-bit result: negate when the sign bit is set.
  if (high >= 0x8000_0000) {
    low = (~low + 1) >>> 0;
    high = (~high + (low === 0 ? 1 : 0)) >>> 0;
  }
  // (high·2^32 + low) mod m; every intermediate stays below 2^53 because m ≤ KEY_COUNT_MAX.
  return ((high % modulus) * (TWO_POW_32 % modulus) + low) % modulus;
}

/** zeta(n, θ) = Σ_{i=1..n} 1/i^θ, the normalising constant of a Zipfian over n items. O(n). */
export function zeta(itemCount: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= itemCount; i++) sum += 1 / Math.pow(i, theta);
  return sum;
}

export interface ZipfianOptions {
  readonly itemCount: number;
  readonly theta?: number;
  /** zeta(itemCount, theta) when known; computed (O(itemCount)) otherwise. */
  readonly zetan?: number;
}

/**
 * YCSB's ZipfianGenerator (Gray et al.): item 0 is the most popular, item i is drawn with
 * probability ∝ 1/(i+1)^θ. Returns indexes in [0, itemCount).
 */
export function zipfianChooser(options: ZipfianOptions, random: Random): KeyChooser {
  const items = options.itemCount;
  const theta = options.theta ?? ZIPFIAN_CONSTANT;
  assert(
    items >= 1 && Number.isSafeInteger(items),
    () => `a Zipfian needs at least one item, got ${items}`,
  );
  assert(theta > 0 && theta < 1, () => `the Zipfian constant must be in (0, 1), got ${theta}`);
  const zetan = options.zetan ?? zeta(items, theta);
  const zeta2theta = zeta(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta2theta / zetan);
  const secondThreshold = 1 + Math.pow(0.5, theta);
  return {
    next(): number {
      const u = random.next();
      const uz = u * zetan;
      if (uz < 1) return 0;
      if (uz < secondThreshold) return Math.min(1, items - 1);
      // Rounding can land exactly on `items` when u is within an ulp of 1; the last item takes it.
      return Math.min(items - 1, Math.floor(items * Math.pow(eta * u - eta + 1, alpha)));
    },
  };
}

/** YCSB's ScrambledZipfianGenerator over [0, keyCount) with constant 0.99. */
export function scrambledZipfianChooser(keyCount: number, random: Random): KeyChooser {
  assert(keyCount >= 1 && keyCount <= KEY_COUNT_MAX, () => `key count out of range: ${keyCount}`);
  // YCSB builds its ZipfianGenerator over [0, ITEM_COUNT], i.e. ITEM_COUNT + 1 items, with the zeta
  // of ITEM_COUNT.
  const zipfian = zipfianChooser(
    { itemCount: SCRAMBLED_ITEM_COUNT + 1, theta: ZIPFIAN_CONSTANT, zetan: SCRAMBLED_ZETAN },
    random,
  );
  return { next: () => fnvHash64Mod(zipfian.next(), keyCount) };
}

/** Every record equally likely. */
export function uniformChooser(keyCount: number, random: Random): KeyChooser {
  assert(keyCount >= 1 && keyCount <= KEY_COUNT_MAX, () => `key count out of range: ${keyCount}`);
  return { next: () => randomInt(random, keyCount) };
}

export function createKeyChooser(
  distribution: KeyDistribution,
  keyCount: number,
  random: Random,
): KeyChooser {
  return distribution === "zipfian"
    ? scrambledZipfianChooser(keyCount, random)
    : uniformChooser(keyCount, random);
}

/**
 * The key of record `index`. YCSB names records `user<number>`; the number is not hashed here
 * because Grapevine hashes every key to its token anyway, so insert order never shows in placement.
 */
export function recordKey(index: number): string {
  return `user${index}`;
}
