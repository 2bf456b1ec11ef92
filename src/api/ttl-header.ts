// api/ttl-header.ts — the X-Grapevine-TTL header (issue 17 §3): a write's time to live, and what a
// read of an expiring value has left.
//
// On PUT the header is a whole number of seconds, ASCII digits only (surrounding spaces, which HTTP
// strips anyway, are allowed): from 1 to TTL_LIMITS.ttlSecondsMax (ten years) the value expires
// that long after the write's stamp; 0 means it never expires, overriding the bucket's ttlSeconds
// (as Cassandra's `USING TTL 0` overrides a table's default). Anything else (a sign, a fraction,
// an exponent, a unit, two headers, which Node joins with a comma) is refused with 400 `bad_ttl`
// rather than guessed at. Absent, the bucket's ttlSeconds applies, else none. On a GET of a live
// value with an expiry the header gives the whole seconds it has left, rounded up.

import { GrapevineError } from "../core/errors.js";
import { parseTtlSeconds, remainingSeconds, TTL_LIMITS } from "../storage/expiry.js";
import type { StoredRecord } from "../storage/record.js";

export const TTL_HEADER = "x-grapevine-ttl";

function badTtl(message: string): GrapevineError {
  return new GrapevineError("bad_ttl", message, { secondsMax: TTL_LIMITS.ttlSecondsMax });
}

/**
 * The header as sent: undefined when absent, 0 for "never expires", else 1 to the maximum. Throws
 * 400 bad_ttl for anything else.
 */
export function parseTtlHeader(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string") throw badTtl("give X-Grapevine-TTL once");
  const seconds = parseTtlSeconds(header);
  if (seconds === "not-a-number")
    throw badTtl(
      `X-Grapevine-TTL must be a whole number of seconds, got ${JSON.stringify(header)}`,
    );
  if (seconds === "too-large")
    throw badTtl(`X-Grapevine-TTL is at most ${TTL_LIMITS.ttlSecondsMax} seconds (ten years)`);
  return seconds;
}

/**
 * A write's time to live: the header's, else the bucket's; undefined when it never expires (no
 * header and no bucket ttlSeconds, or a header of 0).
 */
export function writeTtlSeconds(
  header: string | string[] | undefined,
  bucketTtlSeconds: number | null,
): number | undefined {
  const given = parseTtlHeader(header);
  if (given === undefined) return bucketTtlSeconds ?? undefined;
  return given === 0 ? undefined : given;
}

/** The header of a read: the seconds a live record has left, or undefined when it never expires. */
export function ttlHeaderOf(record: StoredRecord, nowUs: number): string | undefined {
  const seconds = remainingSeconds(record, nowUs);
  return seconds === null ? undefined : String(seconds);
}
