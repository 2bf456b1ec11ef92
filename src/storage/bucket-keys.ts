// storage/bucket-keys.ts — how a (bucket, key) pair becomes the one stored key every replica-side
// path carries (issue 17 §1, §4).
//
// Theory of operation. Below the client API a key is one opaque string: the coordinator hashes it
// to its token (ring/partitioner.ts), replicas store it (layout.ts), hints, read repair, Merkle
// trees and range streams carry it unchanged. A bucket therefore only has to choose that string:
//
// - bucket `default` (what `/kv` addresses): the stored key is the user's key, exactly as before
//   buckets existed, so its token and its place on disk are today's and an old data directory
//   serves unchanged;
// - any other bucket B: the stored key is U+0000 ++ B ++ U+0000 ++ key, and its token the hash of
//   that string, i.e. of bucket and key together, as Riak hashes {Bucket, Key}.
//
// Bucket names are 1 to 64 characters of [A-Za-z0-9_.-] and never contain U+0000, so the second
// U+0000 ends the name unambiguously and the form decodes back to (B, key). A default key could
// in principle be spelled the same way (a key may contain U+0000: `%00`), so the one default-bucket
// key shape that a bucketed key takes, U+0000 ++ valid non-default name ++ U+0000 ++ anything, is
// refused on `/kv` (bad_key): every stored key then decodes to exactly one (bucket, key). Keys of
// that shape were never sensible default keys; one written before buckets existed stays on disk
// and is read as the bucketed key it spells.
//
// Prefixing rather than suffixing keeps the bucket at a fixed place for key listing (issue 17 §4,
// a scan decodes each stored key's bucket) and for TTL by bucket (§3). The module is pure.

import { assert } from "../core/assert.js";

export const DEFAULT_BUCKET = "default";

export const BUCKET_KEY_LIMITS = {
  /** SPEC §2: a user's key is 1 to 1024 bytes of UTF-8, whatever its bucket. */
  userKeyBytesMax: 1024,
  /** A bucket name's characters (all ASCII, so also its bytes). */
  bucketNameLengthMax: 64,
} as const;

/** The separator around a bucket name in a stored key: a character no bucket name contains. */
const SEPARATOR = "\u0000";

/** The bytes a bucket adds to a stored key beyond the user's: two separators and the name. */
export const BUCKET_FRAMING_BYTES_MAX = 2 + BUCKET_KEY_LIMITS.bucketNameLengthMax;

/** The longest stored key: a user key of the longest bucket. */
export const STORED_KEY_BYTES_MAX = BUCKET_KEY_LIMITS.userKeyBytesMax + BUCKET_FRAMING_BYTES_MAX;

const BUCKET_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Why a bucket name is refused, or null when it is a valid name. */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 1 || name.length > BUCKET_KEY_LIMITS.bucketNameLengthMax)
    return `a bucket name is 1 to ${BUCKET_KEY_LIMITS.bucketNameLengthMax} characters, got ${name.length}`;
  if (!BUCKET_NAME_PATTERN.test(name))
    return "a bucket name takes only letters, digits, '_', '.' and '-'";
  return null;
}

export function isBucketName(name: string): boolean {
  return bucketNameProblem(name) === null;
}

/** The stored key of a user's key in a bucket; both are assumed valid (the API checks them). */
export function storedKeyOf(bucket: string, key: string): string {
  assert(isBucketName(bucket), () => `not a bucket name: ${JSON.stringify(bucket)}`);
  if (bucket === DEFAULT_BUCKET) return key;
  return SEPARATOR + bucket + SEPARATOR + key;
}

/** A stored key split back into its bucket and the user's key. */
export interface BucketKey {
  readonly bucket: string;
  readonly key: string;
}

/** The inverse of storedKeyOf, total on every string: what is not a bucketed form is `default`. */
export function bucketKeyOf(stored: string): BucketKey {
  if (!stored.startsWith(SEPARATOR)) return { bucket: DEFAULT_BUCKET, key: stored };
  const end = stored.indexOf(SEPARATOR, 1);
  if (end < 0) return { bucket: DEFAULT_BUCKET, key: stored };
  const bucket = stored.slice(1, end);
  if (bucket === DEFAULT_BUCKET || !isBucketName(bucket))
    return { bucket: DEFAULT_BUCKET, key: stored };
  return { bucket, key: stored.slice(end + 1) };
}

/**
 * Whether a `/kv` key spells a bucketed stored key (and so must be refused there: the module's
 * comment).
 */
export function isReservedDefaultKey(key: string): boolean {
  return bucketKeyOf(key).bucket !== DEFAULT_BUCKET;
}
