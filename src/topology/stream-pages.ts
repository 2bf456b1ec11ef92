// topology/stream-pages.ts — a range stream's pages (stream.ts): the cursor, a position between two
// storage keys (token, key) exclusive, so every page starts strictly after the last; the request a
// cursor makes; the cut of a page to its record and byte bounds (its first record always goes); and
// the check that a page really starts after its cursor and stays in its range.

import { TOKEN_SPACE, tokenToString, type Token } from "../ring/partitioner.js";
import { rangeWidth, type RangeBounds } from "../ring/token-map.js";

/**
 * Fewest bytes a page may be bounded to, however low the byte budget: below it pages are all
 * overhead.
 */
export const PAGE_BYTES_MIN = 1024;

/** One streamed record: the key, its encoded record (storage/record.ts), and its token. */
export interface StreamedRecord {
  readonly key: string;
  readonly record: Uint8Array;
  readonly token: Token;
}

/**
 * Where a stream stands: just after the data key (token, key). `key` null only at the start, where
 * the token is the range's start and the position is before the whole range (start, end].
 */
export interface StreamCursor {
  readonly token: Token;
  readonly key: string | null;
}

/**
 * One page asked of a source: the rest of `range` after `afterKey` (storage/layout.ts
 * dataRangeBoundsAfter).
 */
export interface PageRequest {
  /** (cursor token, range end]. */
  readonly range: RangeBounds;
  /**
   * The cursor's key: resume after the data key (range.start, afterKey); null for the whole range.
   */
  readonly afterKey: string | null;
  readonly recordsMax: number;
  /** Bytes of keys and records; the first record goes even if larger. */
  readonly bytesMax: number;
}

export interface StreamPage {
  readonly records: readonly StreamedRecord[];
  readonly done: boolean;
}

/**
 * Bytes a record takes in a page (and in the byte budget): its key's UTF-8 bytes and its encoding.
 */
export function streamedBytes(key: string, record: Uint8Array): number {
  return Buffer.byteLength(key, "utf8") + record.length;
}

/**
 * Fills one page from a scan in storage order: records until `recordsMax`, or until the next one
 * would take the page past `bytesMax` (the first always goes, so a record larger than the bound
 * streams alone); `done` when the scan ended first. Reads at most one record past the page.
 * The source side of a fetch (net/stream-routes.ts and the local source) uses it.
 */
export async function takePage<T extends { key: string; token: Token }>(
  scan: AsyncIterable<T>,
  encode: (scanned: T) => Uint8Array,
  limits: { recordsMax: number; bytesMax: number },
): Promise<StreamPage> {
  const records: StreamedRecord[] = [];
  let bytes = 0;
  for await (const scanned of scan) {
    if (records.length >= limits.recordsMax) return { records, done: false };
    const record = encode(scanned);
    const size = streamedBytes(scanned.key, record);
    if (records.length > 0 && bytes + size > limits.bytesMax) return { records, done: false };
    records.push({ key: scanned.key, record, token: scanned.token });
    bytes += size;
  }
  return { records, done: true };
}

/** Position of a token in the range's order: 0 just after start, width-1 at end. */
function offsetInRange(range: RangeBounds, token: Token): bigint {
  return (token - range.start - 1n + TOKEN_SPACE) % TOKEN_SPACE;
}

function compareKeys(a: string, b: string): number {
  // Storage order within a token is the key's UTF-8 bytes (layout.ts), not JavaScript's UTF-16
  // order.
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Whether a page moves the cursor forward: every record lies in the range, strictly after the
 * cursor and after the record before it, in storage order. The reason it does not, or null.
 */
export function pageViolation(
  range: RangeBounds,
  cursor: StreamCursor,
  records: readonly StreamedRecord[],
): string | null {
  const w = rangeWidth(range);
  let previous: { offset: bigint; key: string } | null =
    cursor.key === null ? null : { offset: offsetInRange(range, cursor.token), key: cursor.key };
  for (const streamed of records) {
    const offset = offsetInRange(range, streamed.token);
    if (offset >= w)
      return `record ${JSON.stringify(streamed.key)} at token ${tokenToString(streamed.token)} is outside the range`;
    if (
      previous !== null &&
      (offset < previous.offset ||
        (offset === previous.offset && compareKeys(streamed.key, previous.key) <= 0))
    ) {
      return `record ${JSON.stringify(streamed.key)} at token ${tokenToString(streamed.token)} does not follow the cursor`;
    }
    previous = { offset, key: streamed.key };
  }
  return null;
}

/** The request for the page after `cursor` in the stream's range. */
export function pageRequestAt(
  range: RangeBounds,
  cursor: StreamCursor,
  limits: { recordsMax: number; bytesMax: number },
): PageRequest {
  return { range: { start: cursor.token, end: range.end }, afterKey: cursor.key, ...limits };
}

/**
 * The cursor after a page: just after its last record (the page is non-empty and passed
 * pageViolation).
 */
export function cursorAfter(records: readonly StreamedRecord[]): StreamCursor {
  const last = records[records.length - 1];
  if (last === undefined) throw new RangeError("cursorAfter needs a non-empty page");
  return { token: last.token, key: last.key };
}
