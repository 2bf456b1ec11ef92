// net/replica-protocol.ts — the node-to-node replica route, shared by client and server.
//
// A coordinator's operations on one replica travel as `POST /internal/v1/replica` with an
// `application/msgpack` body (net/codec.ts) and, when the cluster has a secret, the secret header
// (net/auth.ts). Unlike the membership route's datagrams this is request/response: the replica
// answers 200 with one result per operation, in order.
//
//   request { from: NodeId, ops: Op[] } Op = ["w", key, recordBytes] write (encodeRecord bytes)
//                                                 | ["r", key]               read: the record
//                                                 | ["d", key]               read: the version only
//                                                 | ["f", key, recordBytes, primary] fallback
//                                                 | ["F", key]               read: fallback copies
//   reply    { results: Result[] }           Result = true                  write acknowledged
//                                                 | null                    read: no such key
//                                                 | recordBytes             "r"/"F": the record
//                                                 | [timestampUs, writer]   "d": the version
//                                                 | { error, message }      this operation failed
//
// Many operations share one request: the client coalesces the operations to one peer issued in one
// event-loop turn (replica-client.ts), so one HTTP round trip and one store batch serve many client
// requests. Tuples keep the body small; every body is validated before use (replica-routes.ts,
// replica-client.ts). A fallback write (issue 16 §4, sloppy quorum) asks a node that is not one of
// the key's replicas to hold the record for `primary`, which is down, and hand it off later
// (replication/fallback-copies.ts); a fallback read asks it for the newest copy it holds of the key
// for any primary. The path is versioned so a future wire change can run beside this one.

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { PEER_NODE_ID_LENGTH_MAX, RECORD_BYTES_MAX } from "../core/limits.js";
import { CLOCK_OFFSET_REFUSAL } from "../replication/replica-transport.js";
import { LAYOUT_LIMITS } from "../storage/layout.js";
import { RECORD_LIMITS } from "../storage/record.js";

export const REPLICA_PATH = "/internal/v1/replica";

export const REPLICA_PROTOCOL_LIMITS = {
  /** Operations in one request; a client splits larger flushes, a server refuses larger bodies. */
  opsPerRequestMax: 256,
  /**
   * A client closes a request once its operations hold this many bytes (one larger op goes alone).
   */
  requestBytesTarget: 1024 * 1024,
  /**
   * A client puts at most this many bytes of values it may get back into one request's reads
   * (data reads × the largest value), so a reply stays near this size.
   */
  replyBytesTarget: 16 * 1024 * 1024,
  /** Room for the envelope, keys and record headers of a full request or reply. */
  envelopeBytesMax: 1024 * 1024,
  /** Longest error message a replica sends back. */
  errorMessageLengthMax: 512,
} as const;

/**
 * The largest request body a replica reads: a full request plus one op carrying the largest value
 * any node accepts (not just this node's --max-value-bytes, so a cluster whose nodes disagree on it
 * during a rolling change still replicates what its coordinators accepted).
 */
export const REPLICA_REQUEST_BYTES_MAX =
  REPLICA_PROTOCOL_LIMITS.requestBytesTarget +
  RECORD_LIMITS.valueBytesMax +
  REPLICA_PROTOCOL_LIMITS.envelopeBytesMax;

/** The largest reply a client reads: the reply target plus one record of the largest value. */
export const REPLICA_REPLY_BYTES_MAX =
  REPLICA_PROTOCOL_LIMITS.replyBytesTarget +
  RECORD_LIMITS.valueBytesMax +
  REPLICA_PROTOCOL_LIMITS.envelopeBytesMax;

/**
 * Per-operation failure codes a replica answers with. They are reasons between peers, not client
 * error codes, and stay out of core/errors.ts on purpose: a coordinator counts any refused
 * operation as that replica not acknowledging (and may try others or leave a hint), so none of them
 * reaches a client as such. The one that changes the client's answer is `clock_offset`
 * (replication/replica-transport.ts CLOCK_OFFSET_REFUSAL): a write that cannot reach its level for
 * it fails with 503 `unavailable`, reason `clock_offset`.
 */
export const REPLICA_OP_ERRORS = {
  /** The replica's store refused the write: its queue is full. The coordinator may try others. */
  overloaded: "overloaded",
  /** The replica is shutting down. */
  closed: "closed",
  /** The record bytes are not a valid record. */
  badRecord: "bad_record",
  /** The key is not 1..1024 bytes of well-formed UTF-8. */
  badKey: "bad_key",
  /** Anything else: the store failed. */
  failed: "failed",
  /**
   * A read of a replica that may have lost acknowledged writes (a power loss with --sync off) and
   * has not finished repairing them (node/run-record.ts): the coordinator asks another replica.
   */
  recovering: "recovering",
  /**
   * The record's timestamp is more than --max-clock-offset-ms ahead of the replica's clock:
   * refused, never stored (issue 14 §2). The coordinator's write fails with 503 `unavailable`,
   * reason `clock_offset`; a hint carrying it is dropped and counted.
   */
  clockOffset: CLOCK_OFFSET_REFUSAL,
  /** A fallback write refused: this node holds as many fallback bytes as it may. */
  fallbackFull: "fallback_full",
  /** A fallback operation sent to a node that keeps no fallback copies. */
  noFallbacks: "no_fallbacks",
} as const;

export type ReplicaOpErrorCode = (typeof REPLICA_OP_ERRORS)[keyof typeof REPLICA_OP_ERRORS];

// Key length in UTF-16 code units is at most its UTF-8 byte length, so this bound is safe; the
// byte length itself is checked by isValidReplicaKey.
const KeySchema = Type.String({ minLength: 1, maxLength: LAYOUT_LIMITS.keyBytesMax });

const WriteOpSchema = Type.Tuple([
  Type.Literal("w"),
  KeySchema,
  Type.Uint8Array({ minByteLength: 1, maxByteLength: RECORD_BYTES_MAX }),
]);
const FallbackWriteOpSchema = Type.Tuple([
  Type.Literal("f"),
  KeySchema,
  Type.Uint8Array({ minByteLength: 1, maxByteLength: RECORD_BYTES_MAX }),
  Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX }),
]);
const FallbackReadOpSchema = Type.Tuple([Type.Literal("F"), KeySchema]);
const ReadOpSchema = Type.Tuple([Type.Literal("r"), KeySchema]);
const DigestOpSchema = Type.Tuple([Type.Literal("d"), KeySchema]);

export const ReplicaRequestSchema = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX }),
    ops: Type.Array(
      Type.Union([
        WriteOpSchema,
        ReadOpSchema,
        DigestOpSchema,
        FallbackWriteOpSchema,
        FallbackReadOpSchema,
      ]),
      {
        minItems: 1,
        maxItems: REPLICA_PROTOCOL_LIMITS.opsPerRequestMax,
      },
    ),
  },
  { additionalProperties: false },
);

export type ReplicaRequest = Static<typeof ReplicaRequestSchema>;
export type ReplicaOp = ReplicaRequest["ops"][number];

const OpErrorSchema = Type.Object({
  error: Type.String({ minLength: 1, maxLength: 64 }),
  message: Type.String({ maxLength: REPLICA_PROTOCOL_LIMITS.errorMessageLengthMax }),
});

export type ReplicaOpError = Static<typeof OpErrorSchema>;

const DigestSchema = Type.Tuple([
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX }),
]);

export const ReplicaReplySchema = Type.Object({
  results: Type.Array(
    Type.Union([Type.Literal(true), Type.Null(), Type.Uint8Array(), DigestSchema, OpErrorSchema]),
    { maxItems: REPLICA_PROTOCOL_LIMITS.opsPerRequestMax },
  ),
});

export type ReplicaResult = Static<typeof ReplicaReplySchema>["results"][number];

export const replicaRequestCheck = TypeCompiler.Compile(ReplicaRequestSchema);
export const replicaReplyCheck = TypeCompiler.Compile(ReplicaReplySchema);

/** The first schema violation, for a one-line refusal. */
export function firstViolation(
  check: typeof replicaRequestCheck | typeof replicaReplyCheck,
  value: unknown,
): string {
  const first = check.Errors(value).First();
  return first === undefined ? "malformed" : `${first.path || "/"} ${first.message}`;
}

/**
 * 1..1024 bytes of UTF-8 with no lone surrogate (which UTF-8 cannot carry and a decoder may yield).
 */
export function isValidReplicaKey(key: string): boolean {
  const bytes = Buffer.byteLength(key, "utf8");
  return bytes >= 1 && bytes <= LAYOUT_LIMITS.keyBytesMax && isWellFormed(key);
}

/** String.prototype.isWellFormed (Node 20), which TypeScript's ES2023 lib does not declare. */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

export function opError(code: ReplicaOpErrorCode, message: string): ReplicaOpError {
  return { error: code, message: message.slice(0, REPLICA_PROTOCOL_LIMITS.errorMessageLengthMax) };
}
