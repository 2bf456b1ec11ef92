// net/list-protocol.ts — the node-to-node route of key listing (issue 17 §4), shared by client
// and server.
//
//   POST /internal/v1/list/page { from, bucket, start, end, after?, keysMax, visitedMax }
//     → { entries: [key, token, timestampUs, writer, tombstone][],
//         reached: [token, storedKey] | null, visited }
//       one page of the bucket's keys (tombstones flagged) in the token range (start, end] of the
//       answering node's store, in token order, resuming strictly after the data key `after`
//       ([token, stored key]); `reached` is how far the page looked, null when the range is done
//       (storage/bucket-scan.ts); `visited` counts the records it read, of every bucket. The
//       caller merges the pages of several replicas (replication/list-merge.ts).
//
// Tokens travel as msgpack 64-bit integers (bigint on both ends, net/codec.ts). Every body is
// validated with typebox before use (list-page-routes.ts, list-client.ts).

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { BUCKET_KEY_LIMITS } from "../storage/bucket-keys.js";
import {
  BUCKET_SCAN_LIMITS,
  type BucketScanPage,
  type BucketScanRequest,
} from "../storage/bucket-scan.js";
import { LAYOUT_LIMITS } from "../storage/layout.js";

export const LIST_PAGE_PATH = "/internal/v1/list/page";

export const LIST_PROTOCOL_LIMITS = {
  /** A request: the bucket, two tokens and one stored key, with room for the envelope. */
  requestBytesMax: 16 * 1024,
  /**
   * A reply: keysMax entries of the longest key and node id, with their framing. About 1.4 MB at
   * the defaults; a page of real keys is far smaller.
   */
  replyBytesMax:
    BUCKET_SCAN_LIMITS.keysMax *
      (BUCKET_KEY_LIMITS.userKeyBytesMax + PEER_NODE_ID_LENGTH_MAX + 64) +
    LAYOUT_LIMITS.keyBytesMax +
    1024,
} as const;

const TokenSchema = Type.BigInt({ minimum: 0n, maximum: 2n ** 64n - 1n });
const StoredKeySchema = Type.String({ minLength: 1, maxLength: LAYOUT_LIMITS.keyBytesMax });
const KeySchema = Type.String({ minLength: 1, maxLength: BUCKET_KEY_LIMITS.userKeyBytesMax });
const NodeSchema = Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX });
const PositionSchema = Type.Tuple([TokenSchema, StoredKeySchema]);

export const ListPageRequestSchema = Type.Object(
  {
    from: NodeSchema,
    bucket: Type.String({ minLength: 1, maxLength: BUCKET_KEY_LIMITS.bucketNameLengthMax }),
    start: TokenSchema,
    end: TokenSchema,
    /** Resume strictly after this data key; absent: from the range's start. */
    after: Type.Optional(PositionSchema),
    keysMax: Type.Integer({ minimum: 1, maximum: BUCKET_SCAN_LIMITS.keysMax }),
    visitedMax: Type.Integer({ minimum: 1, maximum: BUCKET_SCAN_LIMITS.visitedMax }),
  },
  { additionalProperties: false },
);
export type ListPageRequest = Static<typeof ListPageRequestSchema>;

export const ListPageReplySchema = Type.Object({
  entries: Type.Array(
    Type.Tuple([KeySchema, TokenSchema, Type.Integer({ minimum: 0 }), NodeSchema, Type.Boolean()]),
    { maxItems: BUCKET_SCAN_LIMITS.keysMax },
  ),
  reached: Type.Union([PositionSchema, Type.Null()]),
  visited: Type.Integer({ minimum: 0, maximum: BUCKET_SCAN_LIMITS.visitedMax }),
});
export type ListPageReply = Static<typeof ListPageReplySchema>;

export const listPageRequestCheck = TypeCompiler.Compile(ListPageRequestSchema);
export const listPageReplyCheck = TypeCompiler.Compile(ListPageReplySchema);

/** The first schema violation of a value, for a one-line refusal. */
export function listViolation(
  check: { Errors(value: unknown): { First(): { path: string; message: string } | undefined } },
  value: unknown,
): string {
  const first = check.Errors(value).First();
  return first === undefined ? "malformed" : `${first.path || "/"} ${first.message}`;
}

/** A page as it travels. */
export function pageToWire(page: BucketScanPage): ListPageReply {
  return {
    entries: page.entries.map((e) => [e.key, e.token, e.timestampUs, e.writer, e.tombstone]),
    reached: page.reached === null ? null : [page.reached.token, page.reached.storedKey],
    visited: page.visited,
  };
}

/** A page as it arrived (already checked against ListPageReplySchema). */
export function pageFromWire(reply: ListPageReply): BucketScanPage {
  return {
    entries: reply.entries.map(([key, token, timestampUs, writer, tombstone]) => ({
      key,
      token,
      timestampUs,
      writer,
      tombstone,
    })),
    reached:
      reply.reached === null ? null : { token: reply.reached[0], storedKey: reply.reached[1] },
    visited: reply.visited,
  };
}

/** A scan request as it travels. */
export function requestToWire(from: string, request: BucketScanRequest): ListPageRequest {
  const { bucket, range, after, keysMax, visitedMax } = request;
  return {
    from,
    bucket,
    start: range.start,
    end: range.end,
    keysMax,
    visitedMax,
    ...(after === null ? {} : { after: [after.token, after.storedKey] }),
  };
}

/** A scan request as it arrived (already checked against ListPageRequestSchema). */
export function requestFromWire(request: ListPageRequest): BucketScanRequest {
  const { bucket, start, end, after, keysMax, visitedMax } = request;
  return {
    bucket,
    range: { start, end },
    after: after === undefined ? null : { token: after[0], storedKey: after[1] },
    keysMax,
    visitedMax,
  };
}
