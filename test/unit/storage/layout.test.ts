import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { TOKEN_MAX, type Token } from "../../../src/ring/partitioner.js";
import {
  dataRangeBounds,
  decodeDataKey,
  encodeDataKey,
  metaKey,
  NAMESPACE,
  namespaceBounds,
  tokenOfDataKey,
  type KeyBounds,
} from "../../../src/storage/layout.js";
import { InvariantError } from "../../../src/core/assert.js";
import { STORED_KEY_BYTES_MAX } from "../../../src/storage/bucket-keys.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;
const PROPERTY_RUNS = 500;

const HALF = 2n ** 63n;

/** Tokens on the edges of the ring and next to each other, mixed with uniform ones. */
const tokenArbitrary: fc.Arbitrary<Token> = fc.oneof(
  fc.bigInt({ min: 0n, max: TOKEN_MAX }),
  fc.constantFrom(0n, 1n, 2n, 255n, 256n, HALF - 1n, HALF, TOKEN_MAX - 1n, TOKEN_MAX),
  fc.bigInt({ min: 0n, max: 6n }),
);

/**
 * Keys of 1 to 1024 UTF-8 bytes, over all of Unicode (no lone surrogates: UTF-8 cannot carry them).
 */
const keyArbitrary: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
    fc.constantFrom("a", "ab", "b", "\u{10ffff}", "\uffff", "é"),
  )
  .filter((key) => Buffer.byteLength(key) >= 1 && Buffer.byteLength(key) <= 1024);

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** The reference order: token, then the key's UTF-8 bytes. */
function compareTokenKey(
  a: { token: Token; key: string },
  b: { token: Token; key: string },
): number {
  if (a.token !== b.token) return a.token < b.token ? -1 : 1;
  return sign(Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
}

/**
 * The reference range rule (ring/token-map.ts): (start, end] clockwise; start === end is
 * everything.
 */
function inRange(start: Token, end: Token, token: Token): boolean {
  if (start < end) return token > start && token <= end;
  return token > start || token <= end;
}

function within(bounds: KeyBounds, storageKey: Buffer): boolean {
  return Buffer.compare(storageKey, bounds.gte) >= 0 && Buffer.compare(storageKey, bounds.lt) < 0;
}

describe("storage key layout", () => {
  it("encodes a data key as 'd', the token in 8 big-endian bytes, and the UTF-8 key", () => {
    const encoded = encodeDataKey(0x0102030405060708n, "ké");
    expect(encoded.toString("hex")).toBe(`640102030405060708${Buffer.from("ké").toString("hex")}`);
  });

  it("decodes what it encodes, on the ring's edges too (property)", () => {
    fc.assert(
      fc.property(tokenArbitrary, keyArbitrary, (token, key) => {
        const encoded = encodeDataKey(token, key);
        expect(decodeDataKey(encoded)).toEqual({ token, key });
        expect(tokenOfDataKey(encoded)).toBe(token);
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("orders encoded keys exactly as (token, UTF-8 key bytes) (property)", () => {
    const entry = fc.record({ token: tokenArbitrary, key: keyArbitrary });
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        const bytewise = sign(
          Buffer.compare(encodeDataKey(a.token, a.key), encodeDataKey(b.token, b.key)),
        );
        expect(bytewise).toBe(compareTokenKey(a, b));
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("sorts a shorter key that is a prefix of another before it, within one token", () => {
    expect(Buffer.compare(encodeDataKey(5n, "a"), encodeDataKey(5n, "ab"))).toBeLessThan(0);
    expect(Buffer.compare(encodeDataKey(5n, "ab"), encodeDataKey(6n, "a"))).toBeLessThan(0);
  });

  it("refuses empty and over-long keys and tokens outside 64 bits as bugs", () => {
    expect(() => encodeDataKey(1n, "")).toThrow(InvariantError);
    // A stored key is a user's key (≤ 1024 bytes) with its bucket's framing (bucket-keys.ts).
    const max = STORED_KEY_BYTES_MAX;
    expect(() => encodeDataKey(1n, "x".repeat(max + 1))).toThrow(InvariantError);
    expect(() => encodeDataKey(1n, "é".repeat(max / 2 + 1))).toThrow(InvariantError);
    expect(encodeDataKey(1n, "x".repeat(max)).length).toBe(1 + 8 + max);
    expect(() => encodeDataKey(-1n, "k")).toThrow(InvariantError);
    expect(() => encodeDataKey(TOKEN_MAX + 1n, "k")).toThrow(InvariantError);
  });

  it("keeps data, hints and meta in separate namespaces", () => {
    const data = namespaceBounds("data");
    const hints = namespaceBounds("hints");
    const meta = namespaceBounds("meta");
    for (const token of [0n, HALF, TOKEN_MAX]) {
      const key = encodeDataKey(token, "\u{10ffff}".repeat(4));
      expect(within(data, key)).toBe(true);
      expect(within(hints, key)).toBe(false);
      expect(within(meta, key)).toBe(false);
      expect(within(namespaceBounds("fallbacks"), key)).toBe(false);
    }
    expect(within(meta, metaKey("stats"))).toBe(true);
    expect(within(data, metaKey("stats"))).toBe(false);
    expect(new Set(Object.values(NAMESPACE)).size).toBe(Object.keys(NAMESPACE).length);
    // Every stretch of a data range stays inside the data namespace.
    for (const bounds of dataRangeBounds({ start: 7n, end: 7n })) {
      expect(Buffer.compare(bounds.gte, data.gte)).toBeGreaterThanOrEqual(0);
      expect(Buffer.compare(bounds.lt, data.lt)).toBeLessThanOrEqual(0);
    }
  });
});

describe("range bounds", () => {
  it("selects exactly the keys whose token lies in (start, end], wrapping included (property)", () => {
    fc.assert(
      fc.property(
        tokenArbitrary,
        tokenArbitrary,
        fc.array(fc.record({ token: tokenArbitrary, key: keyArbitrary }), { maxLength: 30 }),
        (start, end, entries) => {
          const stretches = dataRangeBounds({ start, end });
          for (const entry of entries) {
            const storageKey = encodeDataKey(entry.token, entry.key);
            const hits = stretches.filter((bounds) => within(bounds, storageKey)).length;
            expect(hits).toBe(inRange(start, end, entry.token) ? 1 : 0);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("gives one stretch for a plain range and two, in ring order, for a wrapping one", () => {
    expect(dataRangeBounds({ start: 10n, end: 20n })).toHaveLength(1);
    const wrapping = dataRangeBounds({ start: 20n, end: 10n });
    expect(wrapping).toHaveLength(2);
    const [afterStart, fromZero] = wrapping as [KeyBounds, KeyBounds];
    expect(within(afterStart, encodeDataKey(21n, "k"))).toBe(true);
    expect(within(afterStart, encodeDataKey(TOKEN_MAX, "k"))).toBe(true);
    expect(within(fromZero, encodeDataKey(0n, "k"))).toBe(true);
    expect(within(fromZero, encodeDataKey(10n, "k"))).toBe(true);
    expect(within(fromZero, encodeDataKey(11n, "k"))).toBe(false);
  });

  it("treats start === end as the whole ring, and a range starting at TOKEN_MAX as one stretch from 0", () => {
    const whole = dataRangeBounds({ start: 5n, end: 5n });
    for (const token of [0n, 4n, 5n, 6n, TOKEN_MAX]) {
      expect(whole.filter((bounds) => within(bounds, encodeDataKey(token, "k")))).toHaveLength(1);
    }
    const fromMax = dataRangeBounds({ start: TOKEN_MAX, end: 3n });
    expect(fromMax).toHaveLength(1);
    expect(within(fromMax[0] as KeyBounds, encodeDataKey(0n, "k"))).toBe(true);
    expect(within(fromMax[0] as KeyBounds, encodeDataKey(TOKEN_MAX, "k"))).toBe(false);
    const toMax = dataRangeBounds({ start: 3n, end: TOKEN_MAX });
    expect(toMax).toHaveLength(1);
    expect(within(toMax[0] as KeyBounds, encodeDataKey(TOKEN_MAX, "\u{10ffff}".repeat(200)))).toBe(
      true,
    );
  });
});
