// net/stream-protocol.ts — the node-to-node routes of range streaming (topology/stream.ts), shared
// by client and server.
//
//   POST /internal/v1/stream/fetch { from, start, end, after?, limit, bytes? } → { records: [key,
//   recordBytes, token][], done }
//       the records (tombstones included) of the token range (start, end] of the answering node's
//       store, in token order, at most `limit` of them and at most `bytes` (default and most
//       `pageBytesTarget`) except that the first record always goes, so one record of the largest
//       value fits a page; `done` when the range has no more. With `after`, the scan resumes after
//       the data key (start, after): the keys of token `start` above `after`, then (start, end]
//       (storage/layout.ts dataRangeBoundsAfter). The caller resumes after the last record it
//       received: (its token, its key), a position that moves with every record, so a page of one
//       record, or of keys sharing a token, is never fetched twice.
//   POST /internal/v1/stream/push { from, records: [key, recordBytes][] } → { applied, superseded }
//       applies the records to the answering node's store through its last-write-wins merge, so a
//       streamed record never overwrites a newer write; answered once committed.
//
// Tokens travel as msgpack 64-bit integers (bigint on both ends, net/codec.ts). Every body is
// validated with typebox before use (stream-routes.ts, stream-client.ts).

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { PEER_NODE_ID_LENGTH_MAX, RECORD_BYTES_MAX } from "../core/limits.js";
import { LAYOUT_LIMITS } from "../storage/layout.js";
import { RECORD_LIMITS } from "../storage/record.js";
import { PAGE_BYTES_MIN } from "../topology/stream-pages.js";
import { STREAM_DEFAULTS } from "../topology/stream.js";

export const STREAM_FETCH_PATH = "/internal/v1/stream/fetch";
export const STREAM_PUSH_PATH = "/internal/v1/stream/push";

export const STREAM_PROTOCOL_LIMITS = {
  /** Records one page may carry. */
  recordsPerPageMax: 4_096,
  /**
   * A page holds at most this many bytes of keys and records (one larger record goes alone): the
   * streaming side's own page bound, so what it asks for is always within what a source accepts.
   */
  pageBytesTarget: STREAM_DEFAULTS.pageBytesMax,
  /** The smallest byte bound a fetch may ask for (the streaming side never asks for less). */
  pageBytesMin: PAGE_BYTES_MIN,
  /** Room for the envelope, keys and record headers. */
  envelopeBytesMax: 1024 * 1024,
} as const;

/** The largest page body either side reads: the target, one largest record, and the envelope. */
export const STREAM_PAGE_BYTES_MAX =
  STREAM_PROTOCOL_LIMITS.pageBytesTarget +
  RECORD_LIMITS.valueBytesMax +
  STREAM_PROTOCOL_LIMITS.envelopeBytesMax;

const TokenSchema = Type.BigInt({ minimum: 0n, maximum: 2n ** 64n - 1n });
const KeySchema = Type.String({ minLength: 1, maxLength: LAYOUT_LIMITS.keyBytesMax });
const RecordBytesSchema = Type.Uint8Array({ minByteLength: 1, maxByteLength: RECORD_BYTES_MAX });
const FromSchema = Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX });

export const StreamFetchRequestSchema = Type.Object(
  {
    from: FromSchema,
    start: TokenSchema,
    end: TokenSchema,
    /** Resume after the data key (start, after); absent: the whole (start, end]. */
    after: Type.Optional(KeySchema),
    limit: Type.Integer({ minimum: 1, maximum: STREAM_PROTOCOL_LIMITS.recordsPerPageMax }),
    /**
     * Bytes of keys and records per page (the first record always goes); absent: pageBytesTarget.
     */
    bytes: Type.Optional(
      Type.Integer({
        minimum: STREAM_PROTOCOL_LIMITS.pageBytesMin,
        maximum: STREAM_PROTOCOL_LIMITS.pageBytesTarget,
      }),
    ),
  },
  { additionalProperties: false },
);
export type StreamFetchRequest = Static<typeof StreamFetchRequestSchema>;

export const StreamFetchReplySchema = Type.Object({
  records: Type.Array(Type.Tuple([KeySchema, RecordBytesSchema, TokenSchema]), {
    maxItems: STREAM_PROTOCOL_LIMITS.recordsPerPageMax,
  }),
  done: Type.Boolean(),
});
export type StreamFetchReply = Static<typeof StreamFetchReplySchema>;

export const StreamPushRequestSchema = Type.Object(
  {
    from: FromSchema,
    records: Type.Array(Type.Tuple([KeySchema, RecordBytesSchema]), {
      minItems: 1,
      maxItems: STREAM_PROTOCOL_LIMITS.recordsPerPageMax,
    }),
  },
  { additionalProperties: false },
);

export const StreamPushReplySchema = Type.Object({
  applied: Type.Integer({ minimum: 0 }),
  superseded: Type.Integer({ minimum: 0 }),
});
export type StreamPushReply = Static<typeof StreamPushReplySchema>;

export const streamFetchRequestCheck = TypeCompiler.Compile(StreamFetchRequestSchema);
export const streamFetchReplyCheck = TypeCompiler.Compile(StreamFetchReplySchema);
export const streamPushRequestCheck = TypeCompiler.Compile(StreamPushRequestSchema);
export const streamPushReplyCheck = TypeCompiler.Compile(StreamPushReplySchema);

/** The first schema violation of a value, for a one-line refusal. */
export function streamViolation(
  check: { Errors(value: unknown): { First(): { path: string; message: string } | undefined } },
  value: unknown,
): string {
  const first = check.Errors(value).First();
  return first === undefined ? "malformed" : `${first.path || "/"} ${first.message}`;
}
