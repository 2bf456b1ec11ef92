// src/sim/history/versions.ts — the version order the checker (checker.ts) judges reads by.
//
// A read returned one of three things: a value with its timestamp, a tombstone with its timestamp
// (a version like a value: it sorts by its timestamp), or a plain "not found" with no timestamp (an
// HTTP 404). A read is *behind* a quorum-acknowledged write when its version is older than the
// write's, or when it found nothing and no delete explains that: the write was not itself a
// delete, and no other delete of the key could have superseded it — one acknowledged with a
// timestamp at least the write's, or one whose timestamp is unknown (indeterminate) and that did
// not finish before the write started (so it may have been stamped after it). Only deletes that
// were not refused and that started before the read ended count. A write with a time to live that
// may have expired by the read explains "not found" as a delete does (expiry.ts).
//
// Tombstones are not unique like values, so a returned tombstone is traced to the key's deletes as
// a set (tombstoneProvenance). Pure: no clock, no IO.

import { EXPIRY_CLOCKS_DEFAULT, expiryExplainsAbsence } from "./expiry.js";
import type { ExpiryClocks, ReadOp, WriteOp } from "./types.js";

/** The writes of a history, indexed for the checks. */
export interface HistoryIndex {
  /** Each key's writes by value: a value is unique within its key (so one key may be set to ""). */
  readonly writesByValue: ReadonlyMap<string, ReadonlyMap<string, WriteOp>>;
  /** Every delete of each key, in history order, whatever its outcome. */
  readonly deletesByKey: ReadonlyMap<string, readonly WriteOp[]>;
  /** Each key's writes (deletes too) acknowledged at a quorum-overlapping level. */
  readonly quorumAcked: ReadonlyMap<string, readonly WriteOp[]>;
  /** Whether a level's replicas meet every quorum, at this history's replication factor. */
  readonly overlaps: (level: string) => boolean;
  /** How far the nodes' clocks may be from the recorder's, for expiry. */
  readonly clocks: ExpiryClocks;
}

/** What a returned tombstone can be traced to; not ok names the kind of violation. */
export interface Provenance {
  readonly verdict:
    "ok" | "phantom-value" | "refused-write-visible" | "future-read" | "timestamp-mismatch";
  /** The key's deletes that were considered (ids), for the violation. */
  readonly deletes: readonly number[];
}

/** True when an operation at `level` touches a set of replicas that meets every quorum. */
export function overlapsQuorum(level: string, replicationFactor: number): boolean {
  const quorum = Math.floor(replicationFactor / 2) + 1;
  if (level === "quorum" || level === "all") return true;
  if (level === "one") return 1 + quorum > replicationFactor;
  const count = Number(level);
  return Number.isInteger(count) && count + quorum > replicationFactor;
}

function append<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [item]);
  else list.push(item);
}

export function indexHistory(
  writes: readonly WriteOp[],
  replicationFactor: number,
  clocks: ExpiryClocks = EXPIRY_CLOCKS_DEFAULT,
): HistoryIndex {
  const writesByValue = new Map<string, Map<string, WriteOp>>();
  const deletesByKey = new Map<string, WriteOp[]>();
  const quorumAcked = new Map<string, WriteOp[]>();
  const overlaps = (level: string): boolean => overlapsQuorum(level, replicationFactor);
  for (const write of writes) {
    if (write.value === null) append(deletesByKey, write.key, write);
    else {
      const values = writesByValue.get(write.key) ?? new Map<string, WriteOp>();
      values.set(write.value, write);
      writesByValue.set(write.key, values);
    }
    if (write.outcome === "ok" && overlaps(write.level)) append(quorumAcked, write.key, write);
  }
  return { writesByValue, deletesByKey, quorumAcked, overlaps, clocks };
}

/** The write that wrote `value` to `key`, if any. */
export function writeOf(index: HistoryIndex, key: string, value: string): WriteOp | undefined {
  return index.writesByValue.get(key)?.get(value);
}

/**
 * The newest quorum-acknowledged write of a key that finished before `beforeMs` (or any), leaving
 * out those `excused` says may be lost (power-loss.ts).
 */
export function newestAcked(
  index: HistoryIndex,
  key: string,
  beforeMs?: number,
  excused: (write: WriteOp) => boolean = () => false,
): WriteOp | undefined {
  let newest: WriteOp | undefined;
  for (const write of index.quorumAcked.get(key) ?? []) {
    if (beforeMs !== undefined && write.endMs >= beforeMs) continue;
    if (excused(write)) continue;
    const newer = (write.timestampUs ?? 0) > (newest?.timestampUs ?? 0);
    if (newest === undefined || newer) newest = write;
  }
  return newest;
}

/** The read's version's timestamp; undefined for a plain "not found". A value without one is 0. */
function versionOf(read: ReadOp): number | undefined {
  if (read.value === null || read.value === undefined) return read.timestampUs;
  return read.timestampUs ?? 0;
}

/** Deletes of the key that may have written something the read could see. */
function visibleDeletes(index: HistoryIndex, key: string, read: ReadOp): WriteOp[] {
  const deletes = index.deletesByKey.get(key) ?? [];
  return deletes.filter((op) => op.outcome !== "failed" && op.startMs <= read.endMs);
}

/** Whether some delete could have superseded `write` by the time of `read`. */
function deleteExplainsAbsence(index: HistoryIndex, read: ReadOp, write: WriteOp): boolean {
  if (write.value === null) return true;
  const writtenAt = write.timestampUs ?? 0;
  return visibleDeletes(index, read.key, read).some((op) =>
    op.timestampUs === undefined ? op.endMs > write.startMs : op.timestampUs >= writtenAt,
  );
}

/** True when the read shows an older state of the key than the acknowledged `write`. */
export function isBehind(index: HistoryIndex, read: ReadOp, write: WriteOp): boolean {
  const version = versionOf(read);
  if (version === undefined) {
    if (deleteExplainsAbsence(index, read, write)) return false;
    const writes = index.writesByValue.get(read.key)?.values() ?? [];
    return !expiryExplainsAbsence(writes, read, write, index.clocks);
  }
  return version < (write.timestampUs ?? 0);
}

/** Which of the key's deletes a tombstone the read returned (at its timestamp) may come from. */
export function tombstoneProvenance(index: HistoryIndex, key: string, read: ReadOp): Provenance {
  const all = index.deletesByKey.get(key) ?? [];
  const ids = (ops: readonly WriteOp[]): number[] => ops.map((op) => op.id);
  if (all.length === 0) return { verdict: "phantom-value", deletes: [] };
  const landed = all.filter((op) => op.outcome !== "failed");
  if (landed.length === 0) return { verdict: "refused-write-visible", deletes: ids(all) };
  const started = visibleDeletes(index, key, read);
  if (started.length === 0) return { verdict: "future-read", deletes: ids(landed) };
  const stamp = read.timestampUs;
  const matches = started.some((op) => op.timestampUs === undefined || op.timestampUs === stamp);
  if (stamp !== undefined && !matches) {
    return { verdict: "timestamp-mismatch", deletes: ids(started) };
  }
  return { verdict: "ok", deletes: [] };
}

/** Values are up to the maximum size: a message shows the start of one and its length. */
const VALUE_CHARS_SHOWN_MAX = 24;

export function shownValue(value: string | null | undefined): string {
  if (value === null || value === undefined) return "null";
  const long = value.length > VALUE_CHARS_SHOWN_MAX;
  const cut = long ? `${value.slice(0, VALUE_CHARS_SHOWN_MAX)}…` : value;
  return long ? `${JSON.stringify(cut)} (${value.length} chars)` : JSON.stringify(cut);
}

/** "nothing", "a tombstone at T" or the value at T, for a message. */
export function describeRead(read: ReadOp): string {
  if (read.value !== null && read.value !== undefined) {
    return `${shownValue(read.value)} at ${read.timestampUs ?? "?"}`;
  }
  return read.timestampUs === undefined ? "nothing" : `a tombstone at ${read.timestampUs}`;
}

/** "write #3 ("w1:2" at T)" (", time to live N s" when it has one) or "delete #3 (at T)". */
export function describeWrite(write: WriteOp): string {
  const at = `at ${write.timestampUs ?? "?"}`;
  if (write.value === null) return `delete #${write.id} (${at})`;
  const ttl = write.ttlSeconds === undefined ? "" : `, time to live ${write.ttlSeconds} s`;
  return `write #${write.id} (${shownValue(write.value)} ${at}${ttl})`;
}
