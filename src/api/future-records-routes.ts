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

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type { NodeId } from "../core/ids.js";
import {
  TOKEN_MAX,
  TOKEN_TEXT_PATTERN,
  tokenFromString,
  tokenToString,
  type Token,
} from "../ring/partitioner.js";
import type { KeyedRecord, StoredRecord } from "../storage/record.js";
import type { ScannedRecord, ScanOptions } from "../storage/store.js";
import type { TokenRangeBounds } from "../storage/layout.js";
import { jsonFieldsBody } from "./admin-schemas.js";
import { answers } from "./answer-schemas.js";
import { OPTIONAL_BODY } from "./openapi.js";

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

// Each field may be null, which means absent, as it always did; nullable as one type and one enum,
// so a refusal says one thing ("must be equal to one of the allowed values").
const FutureRecordsFields = Type.Object({
  action: Type.Optional(
    Type.Unsafe<FutureRecordAction | null>({
      enum: [...FUTURE_RECORD_ACTIONS, null],
      description: "list (the default), restamp or purge",
    }),
  ),
  after: Type.Optional(
    Type.Unsafe<string | null>({
      type: ["string", "null"],
      pattern: TOKEN_TEXT_PATTERN.source,
      description: "the token `next` gave: the page starts after it (16 hex digits)",
    }),
  ),
  scanRecordsMax: Type.Optional(
    Type.Unsafe<number | null>({
      type: ["integer", "null"],
      minimum: 1,
      maximum: FUTURE_RECORDS_LIMITS.scanRecordsMax,
      description: `records to visit (default ${FUTURE_RECORDS_LIMITS.scanRecordsDefault})`,
    }),
  ),
});

const FutureRecordsPage = Type.Object(
  {
    node: Type.String(),
    action: Type.Union(FUTURE_RECORD_ACTIONS.map((action) => Type.Literal(action))),
    scanned: Type.Integer({ minimum: 0 }),
    found: Type.Array(
      Type.Object({
        key: Type.String(),
        timestampUs: Type.Integer(),
        aheadMs: Type.Integer(),
        writer: Type.String(),
        tombstone: Type.Boolean(),
      }),
    ),
    restamped: Type.Integer({ minimum: 0 }),
    purged: Type.Integer({ minimum: 0 }),
    next: Type.Union([Type.String({ pattern: TOKEN_TEXT_PATTERN.source }), Type.Null()], {
      description: "pass as `after` for the next page; null at the end",
    }),
  },
  { description: "The page's records from the future, and what was done to them." },
);

/** The route's schema: its body (one page to scan, and what to do) and its answers. */
const FUTURE_RECORDS_SCHEMA = {
  summary: "Lists, re-stamps or purges one page of this node's records from the future",
  tags: ["admin"],
  body: jsonFieldsBody(FutureRecordsFields, "One page of this node's store, and what to do."),
  [OPTIONAL_BODY]: true,
  response: answers({ 200: FutureRecordsPage }, "bad_request"),
};

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

/** The page asked for; FUTURE_RECORDS_SCHEMA has checked an object body's fields already. */
function parsePageRequest(body: unknown): PageRequest {
  const fields =
    body !== null && typeof body === "object" && !Buffer.isBuffer(body)
      ? (body as Static<typeof FutureRecordsFields>)
      : {};
  const after = fields.after ?? null;
  return {
    action: fields.action ?? "list",
    after: after === null ? null : tokenFromString(after),
    scanRecordsMax: fields.scanRecordsMax ?? FUTURE_RECORDS_LIMITS.scanRecordsDefault,
  };
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
  app.post("/admin/future-records", { schema: FUTURE_RECORDS_SCHEMA }, async (request) =>
    futureRecordsPage(options.deps, parsePageRequest(request.body)),
  );
};
