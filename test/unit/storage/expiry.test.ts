// The TTL rules of storage/expiry.ts (issue 17 §3): when a value expires, what a read sees, what is
// left, and when an expired record may be purged.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvariantError } from "../../../src/core/assert.js";
import {
  expiryOf,
  isExpired,
  purgeableExpired,
  readsAsAbsent,
  remainingSeconds,
  TTL_LIMITS,
} from "../../../src/storage/expiry.js";
import { tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";

const PROPERTY_SEED = 20_261_206;
const SECOND_US = 1_000_000;

function value(timestampUs: number, expiresAtUs?: number): StoredRecord {
  const record = {
    value: Buffer.from("v"),
    contentType: "text/plain",
    timestampUs,
    writer: "n1",
    tombstone: false,
  };
  return expiresAtUs === undefined ? record : { ...record, expiresAtUs };
}

describe("time to live", () => {
  it("puts the expiry ttlSeconds after the write's stamp and refuses a TTL out of bounds", () => {
    expect(expiryOf(5_000_000, 2)).toBe(7_000_000);
    expect(expiryOf(0, TTL_LIMITS.ttlSecondsMax)).toBe(TTL_LIMITS.ttlSecondsMax * SECOND_US);
    for (const bad of [0, -1, 1.5, TTL_LIMITS.ttlSecondsMax + 1, Number.NaN])
      expect(() => expiryOf(5_000_000, bad)).toThrow(InvariantError);
  });

  it("reads a value as absent from its expiry on, and tombstones and missing records always", () => {
    const expiring = value(1_000, 3_000_000);
    expect(isExpired(expiring, 2_999_999)).toBe(false);
    expect(readsAsAbsent(expiring, 2_999_999)).toBe(false);
    expect(isExpired(expiring, 3_000_000)).toBe(true);
    expect(readsAsAbsent(expiring, 3_000_000)).toBe(true);
    expect(readsAsAbsent(value(1_000), Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(readsAsAbsent(tombstoneRecord(1_000, "n1"), 0)).toBe(true);
    expect(readsAsAbsent(undefined, 0)).toBe(true);
  });

  it("gives the whole seconds left, rounded up, only for a live value with a TTL", () => {
    const expiring = value(0, 10 * SECOND_US);
    expect(remainingSeconds(expiring, 0)).toBe(10);
    expect(remainingSeconds(expiring, 1)).toBe(10);
    expect(remainingSeconds(expiring, 9 * SECOND_US)).toBe(1);
    expect(remainingSeconds(expiring, 10 * SECOND_US - 1)).toBe(1);
    expect(remainingSeconds(expiring, 10 * SECOND_US)).toBeNull();
    expect(remainingSeconds(value(0), 0)).toBeNull();
  });

  it("never shows 0 seconds left for a value that still reads (property)", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 50 }),
        fc.integer({ min: 1, max: TTL_LIMITS.ttlSecondsMax }),
        fc.nat({ max: 2 ** 49 }),
        (timestampUs, ttlSeconds, sinceWriteUs) => {
          const record = value(timestampUs, expiryOf(timestampUs, ttlSeconds));
          const nowUs = timestampUs + sinceWriteUs;
          const left = remainingSeconds(record, nowUs);
          // A value reads until its TTL has run out, and never shows more than its TTL left.
          expect(readsAsAbsent(record, nowUs)).toBe(sinceWriteUs >= ttlSeconds * SECOND_US);
          if (readsAsAbsent(record, nowUs)) expect(left).toBeNull();
          else {
            expect(left).toBeGreaterThanOrEqual(1);
            expect(left).toBeLessThanOrEqual(ttlSeconds);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it("lets an expired record be purged only once the grace period has passed since it expired", () => {
    const grace = 100;
    const expiring = value(0, 1_000);
    expect(purgeableExpired(expiring, 1_000 + grace, grace)).toBe(false);
    expect(purgeableExpired(expiring, 1_000 + grace + 1, grace)).toBe(true);
    expect(purgeableExpired(value(0), Number.MAX_SAFE_INTEGER, 0)).toBe(false);
  });
});
