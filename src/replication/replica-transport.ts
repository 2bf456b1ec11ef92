// replication/replica-transport.ts — the port through which a coordinator talks to the other
// replicas of a key, and the version digests replicas answer with.
//
// Theory of operation. The coordinator (coordinator.ts) never sees HTTP: it asks this port to write
// a record to a replica, to read a replica's record (a "data" read), or to read only the version a
// replica holds (a "digest" read, Dynamo's and Cassandra's digest request). net/replica-client.ts
// implements it over undici, coalescing the operations to one peer into one request; tests and the
// simulator implement it in memory. Every operation settles: it resolves with the replica's answer
// or rejects with an Error (refused, overloaded, unreachable, timed out); the coordinator counts a
// rejection as that replica not acknowledging and never needs to know why.
//
// A digest is the pair (timestampUs, writer). Under last-write-wins (storage/record.ts) that pair
// names one write, because a node's hybrid logical clock never issues a timestamp twice, and the
// LWW order of two records is the order of their pairs. So a digest is enough to tell which replica
// holds the newest version without shipping or hashing any value, and comparing digests is
// comparing versions. `null` stands for "the replica has no version of the key", older than any.

import type { NodeId } from "../core/ids.js";
import type { StoredRecord } from "../storage/record.js";

/**
 * The one reason for a refusal that the port's callers act on: a replica refused a write because
 * the record's timestamp is further ahead of its clock than the allowed offset (issue 14 §2). A
 * write that cannot reach its level for it fails with 503 `unavailable`, reason `clock_offset`
 * (coordinator.ts); a hint refused for it is dropped, as it would be refused forever
 * (hinted-handoff.ts). Implementations reject with an error whose `code` is this
 * (net/replica-client.ts ReplicaOpRefusedError carries the replica's per-operation code,
 * net/replica-protocol.ts).
 */
export const CLOCK_OFFSET_REFUSAL = "clock_offset";

/** Whether a rejection of this port is a replica's refusal of the record's timestamp. */
export function isClockRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === CLOCK_OFFSET_REFUSAL;
}

/** The version a replica holds: enough to order it against other versions (LWW). */
export interface VersionDigest {
  readonly timestampUs: number;
  readonly writer: NodeId;
}

export interface ReplicaTransport {
  /**
   * Stores the record (encodeRecord bytes) on replica `to`; resolves once the replica acknowledged,
   * i.e. the write is in its LevelDB log (a version the replica already had newer counts as
   * acknowledged too: last write wins, and the replica holds at least this version).
   */
  write(to: NodeId, key: string, encodedRecord: Uint8Array): Promise<void>;
  /** The replica's record for the key, tombstones included; undefined when it has none. */
  readData(to: NodeId, key: string): Promise<StoredRecord | undefined>;
  /** The version the replica holds for the key; null when it has none. */
  readDigest(to: NodeId, key: string): Promise<VersionDigest | null>;
  /**
   * Sloppy quorum (fallback-copies.ts): asks `to`, not a replica of the key, to hold the record for
   * the down replica `primary` and hand it off later; resolves once `to` holds it durably. Absent
   * from transports that do not carry fallbacks (a coordinator then has no fallback candidates).
   */
  writeFallback?(
    to: NodeId,
    primary: NodeId,
    key: string,
    encodedRecord: Uint8Array,
  ): Promise<void>;
  /** The newest copy of the key that `to` holds as a fallback, for any primary. */
  readFallback?(to: NodeId, key: string): Promise<StoredRecord | undefined>;
}

/** The digest of a record, or null for no record. */
export function digestOf(record: StoredRecord | undefined): VersionDigest | null {
  return record === undefined ? null : { timestampUs: record.timestampUs, writer: record.writer };
}

/**
 * Orders versions as last-write-wins orders records: timestamp, then writer id (the same string
 * order as storage/record.ts compareRecords); null is older than every version.
 */
export function compareDigests(a: VersionDigest | null, b: VersionDigest | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  if (a.timestampUs !== b.timestampUs) return a.timestampUs < b.timestampUs ? -1 : 1;
  return a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0;
}
