// storage/record.ts — one version of a key's value, its byte codec, and last-write-wins.
//
// Theory of operation. A record is what a replica keeps for a key: the value bytes, their content
// type, the hybrid-logical-clock timestamp the coordinator stamped (time/hlc.ts, microseconds), the
// id of the node that stamped it, a tombstone flag for deletes, and for a value written with a time
// to live its expiry (issue 17 §3: an absolute HLC time in microseconds, the write's stamp plus the
// TTL; storage/expiry.ts says when a record has expired). Replicas never coordinate on a
// write; they converge by keeping, of any two versions, the same winner: last write wins (Dynamo's
// "syntactic reconciliation" as Cassandra does it, SPEC §2). The order is a total order, so merge
// is a join on a semilattice: commutative, associative and idempotent, and any replica that has
// seen the same set of versions holds the same one, whatever the order they arrived in:
//
//   1. the higher timestamp wins;
//   2. on equal timestamps, the higher writer id wins (JavaScript string order, i.e. UTF-16 code
//      units; node ids are ASCII, where that is also byte order), so ties resolve the same way on
//      every node without a coin toss;
//   3. a node's HLC never repeats a timestamp, so (timestamp, writer) names one write. Two
//      different records with the same pair only come from a bug or a forged peer; to stay a total
//      order anyway, a tombstone beats a value (Cassandra's rule: a delete wins a tie), then a
//      value with an expiry beats one without and the earlier expiry beats the later (the deader
//      version wins, as the tombstone does: a tie never brings an expired value back), then the
//      greater value bytes, then the greater content type.
//
// Expiry never changes the order otherwise: an expiring value keeps its write's timestamp, so it
// beats every older version and loses to every newer one, expired or not (Cassandra's expiring
// cells). The order takes no clock, so merge stays a join whenever it runs.
//
// The codec is msgpack (msgpackr) of a fixed tuple: format 1 is [1, timestampUs, writer, tombstone,
// contentType, value], format 2 the same with expiresAtUs appended. A record without an expiry is
// always encoded as format 1, byte for byte what builds before TTL wrote (so its Merkle hash, and
// an older data directory, stay as they were); format 2 only carries an expiry. Compact,
// self-describing enough to check, and the value stays raw bytes. The module is pure.

import { Packr } from "msgpackr";
import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { CONTENT_TYPE_BYTES_MAX, NODE_ID_BYTES_MAX, VALUE_BYTES_MAX } from "../core/limits.js";

/**
 * A version of one key's value. Named StoredRecord, not Record, so that importing it never shadows
 * TypeScript's Record<K, V>.
 */
export interface StoredRecord {
  /** The value's bytes; empty for a tombstone. */
  readonly value: Uint8Array;
  /** The Content-Type the client sent (SPEC §2); "" for a tombstone. */
  readonly contentType: string;
  /** HLC microseconds since the epoch; a safe integer (exact in a double until the year 2255). */
  readonly timestampUs: number;
  /** The node whose clock stamped the write: the LWW tie-break. */
  readonly writer: NodeId;
  /** True for a delete. */
  readonly tombstone: boolean;
  /**
   * When the value expires (issue 17 §3): HLC microseconds, above timestampUs; absent for a value
   * that never expires, and always for a tombstone.
   */
  readonly expiresAtUs?: number;
}

/** A record for one key: what a write carries and what a scan yields. */
export interface KeyedRecord {
  readonly key: string;
  readonly record: StoredRecord;
  /**
   * encodeRecord(record), when the caller made it already (the coordinator encodes a write once for
   * every replica). Only bytes this process encoded: bytes from a peer are re-encoded, so what is
   * stored, and hashed into the segment table, is always this build's encoding.
   */
  readonly encoded?: Buffer;
}

/**
 * The tuple's first element. A new layout takes a new number; decode refuses numbers it does not
 * know. Format 1: no expiry; format 2: with expiresAtUs (issue 17 §3).
 */
export const RECORD_FORMAT = 1;
export const RECORD_FORMAT_EXPIRING = 2;

export const RECORD_LIMITS = {
  /** Room for any real media type with parameters; longer ones are refused at the API edge. */
  contentTypeBytesMax: CONTENT_TYPE_BYTES_MAX,
  /** A writer is a node id (core/limits.ts). */
  writerBytesMax: NODE_ID_BYTES_MAX,
  /** The largest --max-value-bytes the config accepts (core/limits.ts). */
  valueBytesMax: VALUE_BYTES_MAX,
} as const;

/** Stored or received bytes that are not a record of a known format. An input error, not a bug. */
export class RecordFormatError extends Error {
  override readonly name = "RecordFormatError";
}

// Structured records off: every encoded record stands alone, with no shared structure table.
const packr = new Packr({ useRecords: false });

function checkRecord(record: StoredRecord): string | null {
  if (!Number.isSafeInteger(record.timestampUs) || record.timestampUs < 0) {
    return `timestampUs must be a non-negative safe integer, got ${record.timestampUs}`;
  }
  if (typeof record.writer !== "string" || record.writer.length === 0)
    return "writer must be a non-empty string";
  if (Buffer.byteLength(record.writer) > RECORD_LIMITS.writerBytesMax) return "writer is too long";
  if (typeof record.contentType !== "string") return "contentType must be a string";
  if (Buffer.byteLength(record.contentType) > RECORD_LIMITS.contentTypeBytesMax)
    return "contentType is too long";
  if (!(record.value instanceof Uint8Array)) return "value must be bytes";
  if (record.value.length > RECORD_LIMITS.valueBytesMax) return "value is too large";
  if (typeof record.tombstone !== "boolean") return "tombstone must be a boolean";
  if (record.tombstone && (record.value.length !== 0 || record.contentType !== "")) {
    return "a tombstone carries no value and no content type";
  }
  return expiryProblem(record);
}

function expiryProblem(record: StoredRecord): string | null {
  const expiresAtUs = record.expiresAtUs;
  if (expiresAtUs === undefined) return null;
  if (record.tombstone) return "a tombstone carries no expiry";
  if (!Number.isSafeInteger(expiresAtUs) || expiresAtUs <= record.timestampUs)
    return `expiresAtUs must be a safe integer above timestampUs, got ${expiresAtUs}`;
  return null;
}

/** Encodes a record. The caller builds records, so a malformed one is a bug. */
export function encodeRecord(record: StoredRecord): Buffer {
  const problem = checkRecord(record);
  assert(problem === null, () => `cannot encode record: ${problem}`);
  const { timestampUs, writer, tombstone, contentType, value, expiresAtUs } = record;
  if (expiresAtUs === undefined)
    return packr.pack([RECORD_FORMAT, timestampUs, writer, tombstone, contentType, value]);
  return packr.pack([
    RECORD_FORMAT_EXPIRING,
    timestampUs,
    writer,
    tombstone,
    contentType,
    value,
    expiresAtUs,
  ]);
}

/** Decodes and checks a record; throws RecordFormatError on anything else. */
export function decodeRecord(bytes: Uint8Array): StoredRecord {
  let tuple: unknown;
  try {
    tuple = packr.unpack(bytes);
  } catch (error) {
    throw new RecordFormatError(`record is not valid msgpack: ${(error as Error).message}`);
  }
  if (!Array.isArray(tuple)) throw new RecordFormatError("record is not a tuple");
  const [format, timestampUs, writer, tombstone, contentType, value, expiresAtUs] =
    tuple as unknown[];
  const length = format === RECORD_FORMAT ? 6 : format === RECORD_FORMAT_EXPIRING ? 7 : null;
  if (length === null) throw new RecordFormatError(`unknown record format ${String(format)}`);
  if (tuple.length !== length)
    throw new RecordFormatError(`a format ${String(format)} record is a ${length}-element tuple`);
  const fields = { timestampUs, writer, tombstone, contentType, value };
  const record = (length === 6 ? fields : { ...fields, expiresAtUs }) as StoredRecord;
  if (length === 7 && typeof expiresAtUs !== "number")
    throw new RecordFormatError("malformed record: expiresAtUs must be a number");
  const problem = checkRecord(record);
  if (problem !== null) throw new RecordFormatError(`malformed record: ${problem}`);
  return record;
}

/** A delete, stamped like any write. */
export function tombstoneRecord(timestampUs: number, writer: NodeId): StoredRecord {
  return { value: new Uint8Array(0), contentType: "", timestampUs, writer, tombstone: true };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The last-write-wins order: negative when a loses to b, positive when a wins, 0 only for records
 * equal in every field. See the theory of operation for the rules and their order.
 */
export function compareRecords(a: StoredRecord, b: StoredRecord): number {
  if (a.timestampUs !== b.timestampUs) return a.timestampUs < b.timestampUs ? -1 : 1;
  const byWriter = compareStrings(a.writer, b.writer);
  if (byWriter !== 0) return byWriter;
  if (a.tombstone !== b.tombstone) return a.tombstone ? 1 : -1;
  if (a.expiresAtUs !== b.expiresAtUs) {
    // The deader version wins a tie: an expiry beats none, the earlier expiry the later.
    if (a.expiresAtUs === undefined) return -1;
    if (b.expiresAtUs === undefined) return 1;
    return a.expiresAtUs < b.expiresAtUs ? 1 : -1;
  }
  const byValue = Buffer.compare(a.value, b.value);
  if (byValue !== 0) return byValue;
  return compareStrings(a.contentType, b.contentType);
}

/**
 * The winner of two versions of one key. Equal records are interchangeable; `a` is returned then.
 */
export function mergeRecords(a: StoredRecord, b: StoredRecord): StoredRecord {
  return compareRecords(a, b) >= 0 ? a : b;
}

/** True when the two records are the same version in every field. */
export function sameRecord(a: StoredRecord, b: StoredRecord): boolean {
  return compareRecords(a, b) === 0;
}
