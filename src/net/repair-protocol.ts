// net/repair-protocol.ts — the node-to-node repair route (Merkle anti-entropy), shared by client
// and server.
//
// The initiator of a repair session asks a replica of the same ranges, with `POST
// /internal/v1/repair` and an `application/msgpack` body (net/codec.ts), plus the cluster secret
// when there is one. Four questions, each answered 200 (antientropy/tree-diff.ts explains the
// descent):
//
//   { from, op: "roots",    session, window, ranges: [[start, end], …] }
//        → { hashes: bin } each range's root, REPAIR_NODE_HASH_BYTES each (bytes
//                                                 [window·4, window·4 + 4) of the 16-byte hash), in
//                                                 order
//   { from, op: "nodes",    session, asks: [[range, levels, depth, index, depth, index, …], …] }
//        → { hashes: [bin, …] } per ask: the hashes of the descendants `levels` below
//                                                 each node (tree-diff.ts roundQuestions), in order
//   { from, op: "buckets",  session, asks: [[range, leaf, bits], …] }
//        → { hashes: [bin | null, …] } per ask: the 2^bits bucket digests of the leaf (window as
//                                                 for nodes); null: the leaf holds too many records
//   { from, op: "entries", session, asks: [[range, first, end] | [range, leaf, leaf + 1, bits,
//   bucket], …] }
//        → { lists: [[keys, timestamps, hashes: bin] | null, …] } null: more records than a list
//        may hold
//   { from, op: "exchange", push: [[key, recordBytes], …], pull: [key, …] }
//        → { records: [recordBytes | null, …] } one per pulled key, in order (null: not held),
//        until
//                                                 the reply's byte target; the keys past the end
//                                                 are asked again
//
// Tokens travel as msgpack 64-bit integers (bigint), hashes as one binary blob of fixed-width
// prefixes (no per-hash framing), so an in-sync range costs 18 bytes of question and 8 of answer.
// The ranges of the session's last roots question are remembered by the replica under (from,
// session) for a while (repair-routes.ts), so the descent's questions name a range by its index in
// that list (1 or 2 bytes) instead of its bounds: the descent's bytes are then almost only hashes.
// Every bound below is checked by the schema on the server and again on the client's reply.

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { PEER_NODE_ID_LENGTH_MAX, RECORD_BYTES_MAX } from "../core/limits.js";
import { LAYOUT_LIMITS } from "../storage/layout.js";
import { RECORD_LIMITS } from "../storage/record.js";
import { REPAIR_LIMITS } from "../antientropy/repair-session.js";
import { LEAF_BUCKET_BITS_MAX } from "../antientropy/range-trees.js";
import { NODE_HASH_BYTES, NODE_HASH_WINDOWS, WIRE_HASH_BYTES } from "../antientropy/tree-diff.js";

export const REPAIR_PATH = "/internal/v1/repair";

/** Bytes of a record hash on the wire (entry lists). */
export const REPAIR_HASH_BYTES = WIRE_HASH_BYTES;
/** Bytes of a tree node hash on the wire: one window of the 16-byte hash, chosen per session. */
export const REPAIR_NODE_HASH_BYTES = NODE_HASH_BYTES;

/**
 * The bounds of every message, decided with the session that fills them
 * (antientropy/repair-session.ts).
 */
export const REPAIR_PROTOCOL_LIMITS = REPAIR_LIMITS;

/** The largest request a replica reads: a full exchange plus one record of the largest value. */
export const REPAIR_REQUEST_BYTES_MAX =
  REPAIR_PROTOCOL_LIMITS.exchangeBytesTarget +
  RECORD_LIMITS.valueBytesMax +
  REPAIR_PROTOCOL_LIMITS.envelopeBytesMax;
/** The largest reply a client reads. */
export const REPAIR_REPLY_BYTES_MAX =
  REPAIR_PROTOCOL_LIMITS.replyBytesTarget +
  RECORD_LIMITS.valueBytesMax +
  REPAIR_PROTOCOL_LIMITS.envelopeBytesMax;

const TokenSchema = Type.BigInt({ minimum: 0n, maximum: 2n ** 64n - 1n });
const RangeSchema = Type.Tuple([TokenSchema, TokenSchema]);
const FromSchema = Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX });
// Key length in UTF-16 code units is at most its UTF-8 byte length; the route checks the bytes too.
const KeySchema = Type.String({ minLength: 1, maxLength: LAYOUT_LIMITS.keyBytesMax });
const RecordBytesSchema = Type.Uint8Array({ minByteLength: 1, maxByteLength: RECORD_BYTES_MAX });
const LeafIndexSchema = Type.Integer({ minimum: 0, maximum: 2 ** 20 });
const SessionSchema = Type.String({ minLength: 1, maxLength: 32 });

const RootsRequestSchema = Type.Object(
  {
    from: FromSchema,
    op: Type.Literal("roots"),
    session: SessionSchema,
    window: Type.Integer({ minimum: 0, maximum: NODE_HASH_WINDOWS - 1 }),
    ranges: Type.Array(RangeSchema, {
      minItems: 1,
      maxItems: REPAIR_PROTOCOL_LIMITS.rangesPerRequestMax,
    }),
  },
  { additionalProperties: false },
);

const NodesRequestSchema = Type.Object(
  {
    from: FromSchema,
    op: Type.Literal("nodes"),
    session: SessionSchema,
    // [range index, levels, depth, index, depth, index, …]
    asks: Type.Array(
      Type.Array(LeafIndexSchema, {
        minItems: 4,
        maxItems: 2 + 2 * REPAIR_PROTOCOL_LIMITS.nodesPerRequestMax,
      }),
      {
        minItems: 1,
        maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax,
      },
    ),
  },
  { additionalProperties: false },
);

const EntriesRequestSchema = Type.Object(
  {
    from: FromSchema,
    op: Type.Literal("entries"),
    session: SessionSchema,
    // [range index, first leaf, end leaf] or [range index, leaf, leaf + 1, bucket bits, bucket]
    asks: Type.Array(Type.Array(LeafIndexSchema, { minItems: 3, maxItems: 5 }), {
      minItems: 1,
      maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax,
    }),
  },
  { additionalProperties: false },
);

const ExchangeRequestSchema = Type.Object(
  {
    from: FromSchema,
    op: Type.Literal("exchange"),
    push: Type.Array(Type.Tuple([KeySchema, RecordBytesSchema]), {
      maxItems: REPAIR_PROTOCOL_LIMITS.recordsPerExchangeMax,
    }),
    pull: Type.Array(KeySchema, { maxItems: REPAIR_PROTOCOL_LIMITS.recordsPerExchangeMax }),
  },
  { additionalProperties: false },
);

const BucketsRequestSchema = Type.Object(
  {
    from: FromSchema,
    op: Type.Literal("buckets"),
    session: SessionSchema,
    // [range index, leaf, bucket bits]
    asks: Type.Array(
      Type.Tuple([
        LeafIndexSchema,
        LeafIndexSchema,
        Type.Integer({ minimum: 1, maximum: LEAF_BUCKET_BITS_MAX }),
      ]),
      {
        minItems: 1,
        maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax,
      },
    ),
  },
  { additionalProperties: false },
);

export const RepairRequestSchema = Type.Union([
  RootsRequestSchema,
  NodesRequestSchema,
  BucketsRequestSchema,
  EntriesRequestSchema,
  ExchangeRequestSchema,
]);
export type BucketsRequest = Static<typeof BucketsRequestSchema>;
export type RootsRequest = Static<typeof RootsRequestSchema>;
export type NodesRequest = Static<typeof NodesRequestSchema>;
export type EntriesRequest = Static<typeof EntriesRequestSchema>;
export type ExchangeRequest = Static<typeof ExchangeRequestSchema>;

export const RootsReplySchema = Type.Object({
  hashes: Type.Uint8Array({
    maxByteLength: REPAIR_NODE_HASH_BYTES * REPAIR_PROTOCOL_LIMITS.rangesPerRequestMax,
  }),
});
export const NodesReplySchema = Type.Object({
  hashes: Type.Array(
    Type.Uint8Array({
      maxByteLength:
        REPAIR_NODE_HASH_BYTES *
        REPAIR_PROTOCOL_LIMITS.nodesPerRequestMax *
        2 ** REPAIR_PROTOCOL_LIMITS.levelsPerAskMax,
    }),
    { maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax },
  ),
});
const EntryListSchema = Type.Tuple([
  Type.Array(KeySchema, { maxItems: REPAIR_PROTOCOL_LIMITS.entriesPerAskMax }),
  Type.Array(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), {
    maxItems: REPAIR_PROTOCOL_LIMITS.entriesPerAskMax,
  }),
  Type.Uint8Array({ maxByteLength: REPAIR_HASH_BYTES * REPAIR_PROTOCOL_LIMITS.entriesPerAskMax }),
]);
export const EntriesReplySchema = Type.Object({
  lists: Type.Array(Type.Union([EntryListSchema, Type.Null()]), {
    maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax,
  }),
});
export const ExchangeReplySchema = Type.Object({
  // The keys are the ones asked for, so they do not travel back: one entry per key answered, in
  // order.
  records: Type.Array(Type.Union([RecordBytesSchema, Type.Null()]), {
    maxItems: REPAIR_PROTOCOL_LIMITS.recordsPerExchangeMax,
  }),
});

export const BucketsReplySchema = Type.Object({
  hashes: Type.Array(
    Type.Union([
      Type.Uint8Array({ maxByteLength: REPAIR_NODE_HASH_BYTES * 2 ** LEAF_BUCKET_BITS_MAX }),
      Type.Null(),
    ]),
    {
      maxItems: REPAIR_PROTOCOL_LIMITS.asksPerRequestMax,
    },
  ),
});
export const bucketsReplyCheck = TypeCompiler.Compile(BucketsReplySchema);

export const repairRequestCheck = TypeCompiler.Compile(RepairRequestSchema);
export const rootsReplyCheck = TypeCompiler.Compile(RootsReplySchema);
export const nodesReplyCheck = TypeCompiler.Compile(NodesReplySchema);
export const entriesReplyCheck = TypeCompiler.Compile(EntriesReplySchema);
export const exchangeReplyCheck = TypeCompiler.Compile(ExchangeReplySchema);

/** The first schema violation, for a 400 message. */
export function firstRepairViolation(
  check: { Errors(value: unknown): Iterable<{ path: string; message: string }> },
  value: unknown,
): string {
  for (const error of check.Errors(value)) return `${error.path || "/"}: ${error.message}`;
  return "invalid";
}
