// Bucket keys (storage/bucket-keys.ts): the default bucket's stored key is the user's key; every
// other bucket's cannot collide with any default key that /kv accepts, and decodes back.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketKeyOf,
  bucketNameProblem,
  DEFAULT_BUCKET,
  isReservedDefaultKey,
  STORED_KEY_BYTES_MAX,
  storedKeyOf,
} from "../../../src/storage/bucket-keys.js";
import { tokenOf } from "../../../src/ring/partitioner.js";

const bucketArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const keyArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.constant("\u0000b\u0000k"),
  fc.constant("\u0000default\u0000k"),
);

describe("bucket keys", () => {
  it("keeps the default bucket's key and token exactly as before buckets", () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        expect(storedKeyOf(DEFAULT_BUCKET, key)).toBe(key);
        expect(tokenOf(storedKeyOf(DEFAULT_BUCKET, key))).toBe(tokenOf(key));
      }),
    );
  });

  it("decodes every stored key back to its bucket and key", () => {
    fc.assert(
      fc.property(bucketArb, keyArb, (bucket, key) => {
        expect(bucketKeyOf(storedKeyOf(bucket, key))).toEqual({ bucket, key });
      }),
    );
  });

  it("never gives a bucketed key the stored key of a default key /kv accepts", () => {
    fc.assert(
      fc.property(bucketArb, keyArb, keyArb, (bucket, key, defaultKey) => {
        fc.pre(bucket !== DEFAULT_BUCKET && !isReservedDefaultKey(defaultKey));
        expect(storedKeyOf(bucket, key)).not.toBe(storedKeyOf(DEFAULT_BUCKET, defaultKey));
      }),
    );
    expect(isReservedDefaultKey("\u0000b\u0000k")).toBe(true);
    expect(isReservedDefaultKey("\u0000default\u0000k")).toBe(false);
    expect(isReservedDefaultKey("\u0000no such/bucket\u0000k")).toBe(false);
  });

  it("validates bucket names and bounds the stored key", () => {
    expect(bucketNameProblem("users")).toBeNull();
    expect(bucketNameProblem("")).toMatch(/1 to 64/);
    expect(bucketNameProblem("x".repeat(65))).toMatch(/1 to 64/);
    expect(bucketNameProblem("a/b")).toMatch(/letters/);
    expect(Buffer.byteLength(storedKeyOf("x".repeat(64), "k".repeat(1024)))).toBe(
      STORED_KEY_BYTES_MAX,
    );
  });
});
