// net/replica-pending-op.ts — one replica operation waiting in a ReplicaClient's queue for a peer
// (net/replica-client.ts), and how the peer's answer to it settles its caller's promise.

import type { NodeId } from "../core/ids.js";
import { decodeRecord, type StoredRecord } from "../storage/record.js";
import type { VersionDigest } from "../replication/replica-transport.js";
import type { ReplicaOp, ReplicaResult } from "./replica-protocol.js";
import { ReplicaOpRefusedError, ReplicaRequestError } from "./replica-client-errors.js";

/** Bytes a key and a record add to a request beyond the value: tuple and string headers. */
export const OP_OVERHEAD_BYTES = 16;

export type OpValue = StoredRecord | VersionDigest | null | undefined;

export const OpKind = { Write: 0, Data: 1, Digest: 2 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export interface PendingOp {
  readonly kind: OpKind;
  readonly wire: ReplicaOp;
  readonly bytes: number;
  readonly enqueuedMs: number;
  readonly resolve: (value: OpValue) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Settles the operation with the peer's result for it: resolved, or rejected with the refusal or as
 * a malformed reply. Returns false when the peer refused it (its error), true otherwise.
 */
export function settleOp(replica: NodeId, op: PendingOp, result: ReplicaResult): boolean {
  if (
    result !== null &&
    typeof result === "object" &&
    !Array.isArray(result) &&
    !(result instanceof Uint8Array)
  ) {
    op.reject(
      new ReplicaOpRefusedError(
        replica,
        result.error,
        `replica ${replica} refused: ${result.error}: ${result.message}`,
      ),
    );
    return false;
  }
  const value = resultValue(replica, op.kind, result);
  if (value instanceof Error) op.reject(value);
  else op.resolve(value);
  return true;
}

/**
 * The caller's value for an answered operation, or the error when the answer is not of its kind.
 */
function resultValue(
  replica: NodeId,
  kind: OpKind,
  result: Exclude<ReplicaResult, { error: string }>,
): OpValue | Error {
  switch (kind) {
    case OpKind.Write:
      if (result === true) return undefined;
      break;
    case OpKind.Data:
      if (result === null) return undefined;
      if (result instanceof Uint8Array) {
        try {
          return decodeRecord(result);
        } catch (error) {
          return new ReplicaRequestError(
            replica,
            "malformed-reply",
            `replica ${replica}: ${(error as Error).message}`,
          );
        }
      }
      break;
    case OpKind.Digest:
      if (result === null) return null;
      if (Array.isArray(result)) return { timestampUs: result[0], writer: result[1] };
      break;
  }
  return new ReplicaRequestError(
    replica,
    "malformed-reply",
    `replica ${replica} answered an operation with the wrong kind of result`,
  );
}
