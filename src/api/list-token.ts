// api/list-token.ts — the continuation token of a key listing (issue 17 §4): opaque to clients,
// base64url of the JSON [version, bucket, last key listed]. The next page resumes strictly after
// that key's place in token order, which is recomputed from the key (its token is the hash of the
// bucket and key, storage/bucket-keys.ts), so a token carries nothing a client could make
// inconsistent. A token is checked in full before use: its alphabet and length, its JSON shape,
// its version, that it belongs to the bucket listed and that the key is a valid key; anything else
// is a 400 `bad_request`.

import { GrapevineError } from "../core/errors.js";
import { tokenOf } from "../ring/partitioner.js";
import { BUCKET_KEY_LIMITS, storedKeyOf } from "../storage/bucket-keys.js";
import type { ScanPosition } from "../storage/bucket-scan.js";

const TOKEN_VERSION = 1;

export const LIST_TOKEN_LIMITS = {
  /**
   * A token's characters at most: base64url of the JSON of the longest bucket and key, each
   * character escaped at worst as \uXXXX (6 bytes), with room for the framing.
   */
  tokenLengthMax: Math.ceil(
    ((BUCKET_KEY_LIMITS.bucketNameLengthMax + BUCKET_KEY_LIMITS.userKeyBytesMax) * 6 + 32) *
      (4 / 3),
  ),
} as const;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The token of a page that ended after `key`. */
export function encodeListToken(bucket: string, key: string): string {
  return Buffer.from(JSON.stringify([TOKEN_VERSION, bucket, key]), "utf8").toString("base64url");
}

function badToken(why: string): GrapevineError {
  return new GrapevineError("bad_request", `bad continuation token (after): ${why}`);
}

/** The key a token resumes after; throws bad_request for anything but a token of this bucket. */
export function decodeListToken(bucket: string, token: string): string {
  if (token.length === 0 || token.length > LIST_TOKEN_LIMITS.tokenLengthMax)
    throw badToken(`expected 1 to ${LIST_TOKEN_LIMITS.tokenLengthMax} characters`);
  if (!BASE64URL.test(token)) throw badToken("not base64url");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw badToken("not a token this server made");
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== TOKEN_VERSION)
    throw badToken("not a token this server made");
  const [, tokenBucket, key] = parsed as unknown[];
  if (tokenBucket !== bucket) throw badToken("it belongs to another bucket");
  if (typeof key !== "string") throw badToken("not a token this server made");
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes < 1 || bytes > BUCKET_KEY_LIMITS.userKeyBytesMax)
    throw badToken("its key is not 1 to 1024 bytes of UTF-8");
  return key;
}

/** Where a listing resumes after `key` of `bucket`: its place in token order. */
export function positionAfterKey(bucket: string, key: string): ScanPosition {
  const storedKey = storedKeyOf(bucket, key);
  return { token: tokenOf(storedKey), storedKey };
}
