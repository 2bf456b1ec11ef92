import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  compareRecords,
  decodeRecord,
  encodeRecord,
  mergeRecords,
  RecordFormatError,
  sameRecord,
  tombstoneRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import { InvariantError } from "../../../src/core/assert.js";
import { Packr } from "msgpackr";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;
const PROPERTY_RUNS = 300;

function live(
  timestampUs: number,
  writer: string,
  value: string | Uint8Array,
  contentType = "text/plain",
): StoredRecord {
  return {
    value: typeof value === "string" ? Buffer.from(value) : value,
    contentType,
    timestampUs,
    writer,
    tombstone: false,
  };
}

/** A record as comparable plain data (values as hex). */
function plain(record: StoredRecord): object {
  return { ...record, value: Buffer.from(record.value).toString("hex") };
}

/** Any valid record, over wide ranges: for the codec. */
const anyRecord: fc.Arbitrary<StoredRecord> = fc
  .record({
    value: fc.uint8Array({ maxLength: 300 }),
    contentType: fc.oneof(
      fc.constantFrom("", "application/octet-stream", "text/plain; charset=utf-8"),
      fc.string({ maxLength: 40 }),
    ),
    timestampUs: fc.oneof(
      fc.maxSafeNat(),
      fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
    ),
    writer: fc.string({ minLength: 1, maxLength: 30 }),
    tombstone: fc.boolean(),
    ttlUs: fc.option(fc.integer({ min: 1, max: 2 ** 40 })),
  })
  .map(({ ttlUs, ...record }): StoredRecord => {
    if (record.tombstone) return { ...record, value: new Uint8Array(0), contentType: "" };
    const expiresAtUs = ttlUs === null ? undefined : record.timestampUs + ttlUs;
    return expiresAtUs === undefined || !Number.isSafeInteger(expiresAtUs)
      ? record
      : { ...record, expiresAtUs };
  });

/**
 * Records from tiny domains, so equal timestamps, equal writers and exact ties happen often: for
 * LWW.
 */
const clashingRecord: fc.Arbitrary<StoredRecord> = fc
  .record({
    value: fc.constantFrom("", "x", "y", "xy").map((text) => Buffer.from(text)),
    contentType: fc.constantFrom("text/plain", "application/json"),
    timestampUs: fc.integer({ min: 0, max: 3 }),
    writer: fc.constantFrom("node-a", "node-b", "node-c"),
    tombstone: fc.boolean(),
    expiresAtUs: fc.constantFrom(undefined, 10, 11),
  })
  .map(({ expiresAtUs, ...record }): StoredRecord => {
    if (record.tombstone) return { ...record, value: Buffer.alloc(0), contentType: "" };
    return expiresAtUs === undefined ? record : { ...record, expiresAtUs };
  });

describe("record codec", () => {
  it("round-trips binary values byte for byte", () => {
    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    const record = live(1_700_000_000_000_000, "node-1", everyByte, "application/octet-stream");
    const decoded = decodeRecord(encodeRecord(record));
    expect(Buffer.from(decoded.value).equals(Buffer.from(everyByte))).toBe(true);
    expect(plain(decoded)).toEqual(plain(record));
  });

  it("round-trips an empty value and keeps its content type", () => {
    const decoded = decodeRecord(
      encodeRecord(live(5, "n", new Uint8Array(0), "application/x-empty")),
    );
    expect(decoded.value.length).toBe(0);
    expect(decoded.contentType).toBe("application/x-empty");
    expect(decoded.tombstone).toBe(false);
  });

  it("round-trips a tombstone", () => {
    const decoded = decodeRecord(encodeRecord(tombstoneRecord(42, "node-2")));
    expect(plain(decoded)).toEqual(plain(tombstoneRecord(42, "node-2")));
    expect(decoded.tombstone).toBe(true);
  });

  it("keeps microsecond timestamps exact up to 2^53", () => {
    for (const timestampUs of [0, 1, 2 ** 32, 1_767_225_600_123_457, Number.MAX_SAFE_INTEGER]) {
      expect(decodeRecord(encodeRecord(live(timestampUs, "n", "v"))).timestampUs).toBe(timestampUs);
    }
  });

  it("round-trips every valid record (property)", () => {
    fc.assert(
      fc.property(anyRecord, (record) => {
        expect(plain(decodeRecord(encodeRecord(record)))).toEqual(plain(record));
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("refuses bytes that are not a record with RecordFormatError", () => {
    const packr = new Packr({ useRecords: false });
    const bad = [
      Buffer.from([0xc1]), // a msgpack byte that is never valid
      packr.pack("hello"),
      packr.pack([1, 5, "n", false, "text/plain"]), // one element short
      packr.pack([3, 5, "n", false, "text/plain", Buffer.from("v")]), // unknown format
      packr.pack([2, 5, "n", false, "text/plain", Buffer.from("v")]), // format 2 without expiry
      packr.pack([1, 5, "n", false, "text/plain", Buffer.from("v"), 9]), // format 1 with one
      packr.pack([2, 5, "n", false, "text/plain", Buffer.from("v"), 5]), // expires at its stamp
      packr.pack([2, 5, "n", false, "text/plain", Buffer.from("v"), null]), // expiry not a number
      packr.pack([2, 5, "n", false, "text/plain", Buffer.from("v"), 7.5]), // fractional
      packr.pack([2, 5, "n", true, "", new Uint8Array(0), 9]), // a tombstone with an expiry
      packr.pack([1, -1, "n", false, "text/plain", Buffer.from("v")]), // negative timestamp
      packr.pack([1, 1.5, "n", false, "text/plain", Buffer.from("v")]), // fractional timestamp
      packr.pack([1, 5, "", false, "text/plain", Buffer.from("v")]), // no writer
      packr.pack([1, 5, "n", "yes", "text/plain", Buffer.from("v")]), // tombstone not a boolean
      packr.pack([1, 5, "n", false, "text/plain", "not bytes"]),
      packr.pack([1, 5, "n", true, "", Buffer.from("v")]), // a tombstone with a value
    ];
    for (const bytes of bad) expect(() => decodeRecord(bytes)).toThrow(RecordFormatError);
  });

  it("encodes a record without expiry as format 1, byte for byte as before TTL", () => {
    const packr = new Packr({ useRecords: false });
    const record = live(1_234_567, "node-a", "value");
    const before = packr.pack([1, 1_234_567, "node-a", false, "text/plain", Buffer.from("value")]);
    expect(encodeRecord(record).equals(before)).toBe(true);
    expect(plain(decodeRecord(before))).toEqual(plain(record));
    expect("expiresAtUs" in decodeRecord(before)).toBe(false);
  });

  it("round-trips a record with an expiry as format 2", () => {
    const record = { ...live(1_000_000, "n", "v"), expiresAtUs: 3_000_000 };
    const bytes = encodeRecord(record);
    expect(new Packr({ useRecords: false }).unpack(bytes)[0]).toBe(2);
    expect(plain(decodeRecord(bytes))).toEqual(plain(record));
  });

  it("treats encoding a malformed record as a bug", () => {
    expect(() => encodeRecord({ ...live(5, "n", "v"), expiresAtUs: 5 })).toThrow(InvariantError);
    expect(() => encodeRecord({ ...tombstoneRecord(5, "n"), expiresAtUs: 9 })).toThrow(
      InvariantError,
    );
    expect(() => encodeRecord(live(-1, "n", "v"))).toThrow(InvariantError);
    expect(() => encodeRecord({ ...tombstoneRecord(1, "n"), value: Buffer.from("v") })).toThrow(
      InvariantError,
    );
  });
});

describe("last write wins", () => {
  it("lets the newer timestamp win whatever the writer", () => {
    const older = live(100, "node-z", "old");
    const newer = live(101, "node-a", "new");
    expect(compareRecords(newer, older)).toBeGreaterThan(0);
    expect(compareRecords(older, newer)).toBeLessThan(0);
    expect(plain(mergeRecords(older, newer))).toEqual(plain(newer));
    expect(plain(mergeRecords(newer, older))).toEqual(plain(newer));
  });

  it("breaks equal timestamps toward the higher writer id", () => {
    const fromA = live(100, "node-a", "from a");
    const fromB = live(100, "node-b", "from b");
    expect(plain(mergeRecords(fromA, fromB))).toEqual(plain(fromB));
    expect(plain(mergeRecords(fromB, fromA))).toEqual(plain(fromB));
  });

  it("lets a newer tombstone beat a value, and a newer value beat a tombstone", () => {
    expect(mergeRecords(live(1, "n", "v"), tombstoneRecord(2, "n")).tombstone).toBe(true);
    expect(mergeRecords(tombstoneRecord(1, "n"), live(2, "n", "v")).tombstone).toBe(false);
  });

  it("lets a tombstone win an exact tie of timestamp and writer", () => {
    expect(mergeRecords(live(7, "n", "v"), tombstoneRecord(7, "n")).tombstone).toBe(true);
    expect(mergeRecords(tombstoneRecord(7, "n"), live(7, "n", "v")).tombstone).toBe(true);
  });

  it("orders an expiring value by its write's timestamp, expired or not (TTL)", () => {
    const expiring = { ...live(5, "node-a", "v"), expiresAtUs: 6 };
    // Expiry never brings an older value back, nor hides a newer one.
    expect(mergeRecords(expiring, live(4, "node-z", "old"))).toBe(expiring);
    const newer = live(7, "node-a", "new");
    expect(mergeRecords(expiring, newer)).toBe(newer);
    expect(mergeRecords(tombstoneRecord(7, "node-a"), expiring).tombstone).toBe(true);
  });

  it("lets the deader version win an exact tie: expiry over none, the earlier expiry", () => {
    const forever = live(5, "node-a", "v");
    const soon = { ...forever, expiresAtUs: 9 };
    const later = { ...forever, expiresAtUs: 12 };
    expect(mergeRecords(forever, soon)).toBe(soon);
    expect(mergeRecords(later, soon)).toBe(soon);
    expect(mergeRecords(tombstoneRecord(5, "node-a"), soon).tombstone).toBe(true);
    expect(sameRecord(soon, { ...soon })).toBe(true);
  });

  it("orders any two different records strictly, and equal ones as equal (property)", () => {
    fc.assert(
      fc.property(clashingRecord, clashingRecord, (a, b) => {
        const ab = compareRecords(a, b);
        const ba = compareRecords(b, a);
        expect(Math.sign(ab) + Math.sign(ba)).toBe(0);
        expect(ab === 0).toBe(JSON.stringify(plain(a)) === JSON.stringify(plain(b)));
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("merges idempotently, commutatively and associatively (property)", () => {
    fc.assert(
      fc.property(clashingRecord, clashingRecord, clashingRecord, (a, b, c) => {
        expect(sameRecord(mergeRecords(a, a), a)).toBe(true);
        expect(sameRecord(mergeRecords(a, b), mergeRecords(b, a))).toBe(true);
        expect(
          sameRecord(mergeRecords(mergeRecords(a, b), c), mergeRecords(a, mergeRecords(b, c))),
        ).toBe(true);
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("converges on the same winner whatever order the versions arrive in (property)", () => {
    fc.assert(
      fc.property(
        fc
          .array(clashingRecord, { minLength: 1, maxLength: 8 })
          .chain((versions) =>
            fc.tuple(
              fc.constant(versions),
              fc.shuffledSubarray(versions, { minLength: versions.length }),
            ),
          ),
        ([versions, shuffled]) => {
          const inOrder = versions.reduce(mergeRecords);
          const reordered = shuffled.reduce(mergeRecords);
          expect(sameRecord(inOrder, reordered)).toBe(true);
          // The winner is one of the versions and loses to none of them.
          expect(versions.some((version) => sameRecord(version, inOrder))).toBe(true);
          for (const version of versions)
            expect(compareRecords(inOrder, version)).toBeGreaterThanOrEqual(0);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });
});
