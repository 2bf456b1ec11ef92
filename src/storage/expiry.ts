// storage/expiry.ts — time to live (issue 17 §3): when a record expires, whether it has, what is
// left of it, and when an expired one may be purged.
//
// Theory of operation. A write with a time to live carries its expiry as an absolute point in HLC
// time, expiresAtUs = the write's stamp + ttlSeconds (record.ts), fixed by the coordinator when it
// stamps the write, so every replica stores the same expiry and the Merkle leaf of the record (its
// encoded bytes) is the same on each, expired or not. A record has expired once the reader's clock
// reaches that point; from then on it reads as absent, as a tombstone does, but it stays stored,
// with its write's own timestamp, so it still beats every older version wherever it travels
// (read repair, hints, Merkle repair, range streams) and loses to every newer one: expiry never
// brings an older value back (Cassandra's expiring cells). Like a tombstone it is purged once the
// tombstone grace period has passed since it expired, by which time repair has carried it to every
// replica. The module is pure: every function takes the time.

import { assert } from "../core/assert.js";
import type { StoredRecord } from "./record.js";

const MICROSECONDS_PER_SECOND = 1_000_000;

export const TTL_LIMITS = {
  /**
   * A time to live at most, in seconds: ten years (the bucket property's bound too). Far past any
   * cache or session lifetime, and the expiry of a write stamped today stays a safe integer of µs.
   */
  ttlSecondsMax: 10 * 365 * 24 * 3600,
} as const;

/** A time to live as text: ASCII digits only, at most 10 (anything longer is over the maximum). */
const TTL_TEXT = /^[0-9]{1,10}$/;

/**
 * A time to live given as text (X-Grapevine-TTL, `grapevine put --ttl`): whole seconds from 0 to
 * the maximum, surrounding spaces ignored; "not-a-number" for anything but digits, "too-large" past
 * the maximum. 0 is "never expires"; what it overrides is the caller's business.
 */
export function parseTtlSeconds(text: string): number | "not-a-number" | "too-large" {
  const trimmed = text.trim();
  if (!TTL_TEXT.test(trimmed)) return "not-a-number";
  const seconds = Number(trimmed);
  return seconds > TTL_LIMITS.ttlSecondsMax ? "too-large" : seconds;
}

/**
 * The expiry of a write stamped at timestampUs with a time to live of ttlSeconds (1 to the
 * maximum: the API refuses others, so another here is a bug).
 */
export function expiryOf(timestampUs: number, ttlSeconds: number): number {
  assert(
    Number.isSafeInteger(ttlSeconds) && ttlSeconds >= 1 && ttlSeconds <= TTL_LIMITS.ttlSecondsMax,
    () => `a time to live is 1 to ${TTL_LIMITS.ttlSecondsMax} seconds, got ${ttlSeconds}`,
  );
  return timestampUs + ttlSeconds * MICROSECONDS_PER_SECOND;
}

/** Whether the record is a value whose time to live has run out at nowUs. */
export function isExpired(record: StoredRecord, nowUs: number): boolean {
  return record.expiresAtUs !== undefined && record.expiresAtUs <= nowUs;
}

/** Whether the record reads as absent at nowUs: a tombstone, or an expired value. */
export function readsAsAbsent(record: StoredRecord | undefined, nowUs: number): boolean {
  return record === undefined || record.tombstone || isExpired(record, nowUs);
}

/**
 * The whole seconds a live record has left at nowUs, rounded up (so a live value never shows 0), or
 * null for a record without a time to live or already expired.
 */
export function remainingSeconds(record: StoredRecord, nowUs: number): number | null {
  if (record.expiresAtUs === undefined || isExpired(record, nowUs)) return null;
  return Math.ceil((record.expiresAtUs - nowUs) / MICROSECONDS_PER_SECOND);
}

/**
 * Whether an expired record may be purged at nowUs: once the grace period has passed since it
 * expired, as a tombstone's since it was written (nowUs - expiresAtUs > graceUs).
 */
export function purgeableExpired(record: StoredRecord, nowUs: number, graceUs: number): boolean {
  return record.expiresAtUs !== undefined && record.expiresAtUs < nowUs - graceUs;
}
