// api/future-records-routes.ts — `POST /admin/future-records`: the operator's tool for records
// stored with timestamps from the future before issue 14 §2's guard existed (or while
// --max-clock-offset-ms was larger). Such a record wins last-write-wins against every later write
// of its key, and replicas now refuse to copy it, so it must be listed and then re-stamped or
// purged by hand.
//
// One request scans one bounded page of THIS node's store, in token order, and answers the records
// of the page stamped more than the allowed offset ahead of this node's clock:
//   {"action": "list" | "restamp" | "purge", "after"?: TOKEN, "scanRecordsMax"?: n}
//   → {"node", "action", "scanned", "found": [{key, timestampUs, aheadMs, writer, tombstone}],
//      "restamped", "purged", "next": TOKEN | null}
// `next` is the token to pass as `after` for the next page (null when the scan reached the end). A
// page ends only between tokens, so keys sharing a token are never split across pages.
//   - restamp: the record is written again with its value, content type and tombstone flag, stamped
//     now by this node's hybrid clock: the future record is deleted first (last-write-wins would
//     keep it), then the re-stamped one is applied (and loses, as it should, to any newer write).
//   - purge: the record is deleted.
// Both act on this node's replica only. Another replica still holding the future record would win
// every read that asks it, and replicas refuse to copy it, so run the command on every node
// (`grapevine future-records` does: it visits every member of the ring).

import type { FastifyPluginAsync } from "fastify";
import type { NodeId } from "../core/ids.js";
import { TOKEN_MAX, tokenFromString, tokenToString, type Token } from "../ring/partitioner.js";
import type { KeyedRecord, StoredRecord } from "../storage/record.js";
import type { ScannedRecord, ScanOptions } from "../storage/store.js";
import type { TokenRangeBounds } from "../storage/layout.js";
import { GrapevineError } from "../core/errors.js";

export const FUTURE_RECORDS_LIMITS = {
  /** Records visited per request by default: a page is a fraction of a second of LevelDB reads. */
  scanRecordsDefault: 10_000,
  /** And at most (more would hold the request, and memory, too long). */
  scanRecordsMax: 100_000,
  /** Records from the future acted on per page; the page ends early past it. */
  foundPerPageMax: 1_000,
} as const;

export const FUTURE_RECORD_ACTIONS = ["list", "restamp", "purge"] as const;
export type FutureRecordAction = (typeof FUTURE_RECORD_ACTIONS)[number];

export interface FutureRecordsDeps {
  readonly self: NodeId;
  readonly store: {
    scanRange(range: TokenRangeBounds, options?: ScanOptions): AsyncIterable<ScannedRecord>;
    apply(writes: readonly KeyedRecord[]): Promise<unknown>;
    deleteStampedAbove(keys: readonly string[], timestampUsAbove: number): Promise<number>;
  };
  /**
   * The wall clock (µs) and the allowed offset: a record stamped above wall + offset is from the
   * future.
   */
  readonly wallUs: () => number;
  readonly maxClockOffsetUs: number;
  /** A fresh timestamp from this node's hybrid clock, for restamp. */
  readonly stamp: () => number;
}

export interface FutureRecordBody {
  readonly key: string;
  readonly timestampUs: number;
  readonly aheadMs: number;
  readonly writer: NodeId;
  readonly tombstone: boolean;
}

export interface FutureRecordsReply {
  readonly node: NodeId;
  readonly action: FutureRecordAction;
  readonly scanned: number;
  readonly found: readonly FutureRecordBody[];
  readonly restamped: number;
  readonly purged: number;
  readonly next: string | null;
}

interface PageRequest {
  readonly action: FutureRecordAction;
  readonly after: Token | null;
  readonly scanRecordsMax: number;
}

function parsePageRequest(body: unknown): PageRequest {
  const fields =
    body !== null && typeof body === "object" && !Buffer.isBuffer(body)
      ? (body as Record<string, unknown>)
      : {};
  const action = fields["action"] ?? "list";
  if (
    typeof action !== "string" ||
    !(FUTURE_RECORD_ACTIONS as readonly string[]).includes(action)
  ) {
    throw new GrapevineError(
      "bad_request",
      `action must be one of ${FUTURE_RECORD_ACTIONS.join(", ")}`,
    );
  }
  let after: Token | null = null;
  const afterField = fields["after"];
  if (afterField !== undefined && afterField !== null) {
    try {
      if (typeof afterField !== "string") throw new TypeError("not a string");
      after = tokenFromString(afterField);
    } catch {
      throw new GrapevineError(
        "bad_request",
        "after must be a token as `next` gave it (16 hex digits)",
      );
    }
  }
  const scan = fields["scanRecordsMax"] ?? FUTURE_RECORDS_LIMITS.scanRecordsDefault;
  if (
    typeof scan !== "number" ||
    !Number.isSafeInteger(scan) ||
    scan < 1 ||
    scan > FUTURE_RECORDS_LIMITS.scanRecordsMax
  ) {
    throw new GrapevineError(
      "bad_request",
      `scanRecordsMax must be an integer from 1 to ${FUTURE_RECORDS_LIMITS.scanRecordsMax}`,
    );
  }
  return { action: action as FutureRecordAction, after, scanRecordsMax: scan };
}

/** One page: scan, find, act. Exported for tests. */
export async function futureRecordsPage(
  deps: FutureRecordsDeps,
  request: PageRequest,
): Promise<FutureRecordsReply> {
  const wallUs = deps.wallUs();
  const aboveUs = wallUs + deps.maxClockOffsetUs;
  // (after, TOKEN_MAX]; the whole ring (TOKEN_MAX, TOKEN_MAX] wraps to [TOKEN_MIN, TOKEN_MAX].
  const range: TokenRangeBounds = { start: request.after ?? TOKEN_MAX, end: TOKEN_MAX };
  const found: ScannedRecord[] = [];
  let scanned = 0;
  let lastToken: Token | null = null;
  let next: Token | null = null;
  if (request.after === null || request.after < TOKEN_MAX) {
    for await (const scannedRecord of deps.store.scanRange(range, { tombstones: true })) {
      const full =
        scanned >= request.scanRecordsMax || found.length >= FUTURE_RECORDS_LIMITS.foundPerPageMax;
      // A page ends between tokens only: the next one starts after lastToken and must miss no key.
      if (full && scannedRecord.token !== lastToken) {
        next = lastToken;
        break;
      }
      scanned += 1;
      lastToken = scannedRecord.token;
      if (scannedRecord.record.timestampUs > aboveUs) found.push(scannedRecord);
    }
  }
  let restamped = 0;
  let purged = 0;
  if (request.action !== "list" && found.length > 0) {
    const keys = found.map((entry) => entry.key);
    const deleted = await deps.store.deleteStampedAbove(keys, aboveUs);
    if (request.action === "purge") {
      purged = deleted;
    } else {
      const writes = found.map(({ key, record }): KeyedRecord => ({
        key,
        record: restamp(record, deps.stamp(), deps.self),
      }));
      await deps.store.apply(writes);
      restamped = writes.length;
    }
  }
  return {
    node: deps.self,
    action: request.action,
    scanned,
    found: found.map(({ key, record }) => ({
      key,
      timestampUs: record.timestampUs,
      aheadMs: Math.round((record.timestampUs - wallUs) / 1000),
      writer: record.writer,
      tombstone: record.tombstone,
    })),
    restamped,
    purged,
    next: next === null ? null : tokenToString(next),
  };
}

function restamp(record: StoredRecord, timestampUs: number, writer: NodeId): StoredRecord {
  return { ...record, timestampUs, writer };
}

export interface FutureRecordsRoutesOptions {
  readonly deps: FutureRecordsDeps;
}

export const futureRecordsRoutes: FastifyPluginAsync<FutureRecordsRoutesOptions> = async (
  app,
  options,
) => {
  app.post("/admin/future-records", async (request) =>
    futureRecordsPage(options.deps, parsePageRequest(request.body)),
  );
};
