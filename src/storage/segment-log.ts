// storage/segment-log.ts — keeps the segment hashes (segments.ts) durable without rescanning the
// data: the in-memory table, the log of its changes on disk, and the rolling sweep that lets old
// log entries go.
//
// Segment hashes are kept the same way as the statistics: the batch that replaces a stored version
// subtracts the old record's hash from its token segment and adds the new one's, from the bytes the
// batch's getMany already read (no extra LevelDB read), and writes one segment log entry with the
// touched segments' new states in the same db.batch (segments.ts); deletes and purges subtract. The
// table lives in memory (1.25 MiB), is loaded at open, and only changes after its batch committed,
// so after a crash or a restart the trees of antientropy/ are right without rescanning the data. A
// database without segment entries (written before they existed) is scanned once at open to build
// them.

import Denque from "denque";
import { assert } from "../core/assert.js";
import { decodeSegmentLogKey, metaKey, namespaceBounds, segmentLogKey } from "./layout.js";
import {
  replaySegmentLogEntry,
  SEGMENT_BITS,
  SEGMENT_COUNT,
  SEGMENT_LOG_LIMITS,
  SegmentTable,
  Staging,
} from "./segments.js";
import { META_SEGMENTS, metaPackr } from "./store-meta.js";
import { STORE_DEFAULTS } from "./store-limits.js";
import type { BatchOperation, Database } from "./store-state.js";

/**
 * SEGMENT_BITS and the log layout: a different value means the log must be rebuilt from the data.
 */
const SEGMENT_LOG_FORMAT = `log-${SEGMENT_BITS}`;

/** A log entry on disk, and how far the rolling sweep had gone once it was written. */
interface SegmentLogEntry {
  readonly sequence: number;
  /** SegmentState.sweptTotal after this entry: entries after it swept (latest − this) segments. */
  readonly sweptTotal: number;
}

/** The segment table and where its log stands. */
export interface SegmentState {
  readonly table: SegmentTable;
  /** The next log sequence. */
  nextSequence: number;
  /**
   * The log entries on disk, oldest first (the first may be a checkpoint of an older database). A
   * deque: about one sweep's worth (4,096) of entries, and every batch drops the oldest, which an
   * array's splice(0, n) paid for by moving them all (1.3% of node CPU under a PUT load).
   */
  readonly entries: Denque<SegmentLogEntry>;
  /** The next segment the rolling sweep writes (segments.ts). */
  sweepCursor: number;
  /**
   * Segments swept since this process opened the store. Entries loaded at open count as swept at
   * 0, so they are deleted only after a full sweep of this process.
   */
  sweptTotal: number;
}

/** What logSegments added to a batch, for installSegments once the batch committed. */
export interface LoggedSegments {
  readonly sequence: number;
  /** Oldest entries the batch deleted. */
  readonly deleted: number;
}

export async function readSegments(db: Database): Promise<SegmentState | null> {
  // level answers undefined for a missing key, though its types say Buffer.
  const marker = await db.get(metaKey(META_SEGMENTS));
  if (marker === undefined || metaPackr.unpack(marker) !== SEGMENT_LOG_FORMAT) return null;
  const state: SegmentState = {
    table: new SegmentTable(),
    nextSequence: 0,
    entries: new Denque(),
    sweepCursor: 0,
    sweptTotal: 0,
  };
  const bounds = namespaceBounds("segments");
  const iterator = db.iterator({ gte: bounds.gte, lt: bounds.lt });
  try {
    for (;;) {
      const entries = await iterator.nextv(STORE_DEFAULTS.scanBatchSizeDefault);
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        const sequence = decodeSegmentLogKey(key);
        replaySegmentLogEntry(state.table, value);
        state.entries.push({ sequence, sweptTotal: 0 });
        state.nextSequence = sequence + 1;
      }
    }
  } finally {
    await iterator.close();
  }
  return state;
}

/** Only for a database without a segment log: one full scan, then a checkpoint of every segment. */
export async function rebuildSegments(db: Database): Promise<SegmentState> {
  const table = new SegmentTable();
  const staging = new Staging(table);
  const data = namespaceBounds("data");
  const iterator = db.iterator({ gte: data.gte, lt: data.lt });
  try {
    for (;;) {
      const entries = await iterator.nextv(STORE_DEFAULTS.scanBatchSizeMax);
      if (entries.length === 0) break;
      for (const [key, value] of entries) staging.add(key, value);
    }
  } finally {
    await iterator.close();
  }
  table.install(staging);
  const stale = namespaceBounds("segments");
  await db.clear({ gte: stale.gte, lt: stale.lt });
  await db.batch([
    { type: "put", key: segmentLogKey(0), value: table.encodeCheckpoint() },
    { type: "put", key: metaKey(META_SEGMENTS), value: metaPackr.pack(SEGMENT_LOG_FORMAT) },
  ]);
  return {
    table,
    nextSequence: 1,
    entries: new Denque([{ sequence: 0, sweptTotal: 0 }]),
    sweepCursor: 0,
    sweptTotal: 0,
  };
}

/**
 * Adds one segment log entry for the batch's segment changes, with the next step of the rolling
 * sweep, and deletes the oldest entries that the sweep since has made redundant (segments.ts).
 * Nothing when the batch changed no segment.
 */
export function logSegments(
  state: SegmentState,
  operations: BatchOperation[],
  staging: Staging,
): LoggedSegments | null {
  if (staging.size === 0) return null;
  const sequence = state.nextSequence;
  const sweep = SEGMENT_LOG_LIMITS.sweepSegmentsPerEntry;
  operations.push({
    type: "put",
    key: segmentLogKey(sequence),
    value: staging.encodeWithSweep(state.sweepCursor, sweep),
  });
  const sweptAfter = state.sweptTotal + sweep;
  let deleted = 0;
  for (let index = 0; index < state.entries.length; index++) {
    const entry = state.entries.peekAt(index) as SegmentLogEntry;
    // Entries after this one (the new one included) swept every segment: all it holds is stale.
    if (sweptAfter - entry.sweptTotal < SEGMENT_COUNT) break;
    operations.push({ type: "del", key: segmentLogKey(entry.sequence) });
    deleted++;
  }
  return { sequence, deleted };
}

/** After the batch committed: the table takes the staged states, the log and the sweep advance. */
export function installSegments(
  state: SegmentState,
  staging: Staging,
  logged: LoggedSegments | null,
): void {
  state.table.install(staging);
  if (logged === null) return;
  assert(
    logged.sequence === state.nextSequence,
    "segment log entries are installed in sequence order",
  );
  const sweep = SEGMENT_LOG_LIMITS.sweepSegmentsPerEntry;
  for (let index = 0; index < logged.deleted; index++) state.entries.shift();
  state.sweepCursor = (state.sweepCursor + sweep) % SEGMENT_COUNT;
  state.sweptTotal += sweep;
  state.entries.push({ sequence: logged.sequence, sweptTotal: state.sweptTotal });
  state.nextSequence = logged.sequence + 1;
}
