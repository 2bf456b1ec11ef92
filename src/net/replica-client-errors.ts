// net/replica-client-errors.ts — how a replica operation fails on the coordinator's side: the
// request could not be made or answered, or the replica refused this one operation; and how a
// refusal's body is named in the error.

import type { NodeId } from "../core/ids.js";

/** A replica operation failed; `reason` says how, for logs and tests. */
export class ReplicaRequestError extends Error {
  override readonly name = "ReplicaRequestError";
  constructor(
    readonly replica: NodeId,
    readonly reason:
      | "overloaded"
      | "no-address"
      | "expired"
      | "closed"
      | "unreachable"
      | "refused"
      | "malformed-reply",
    message: string,
  ) {
    super(message);
  }
}

/**
 * A replica answered this one operation with an error code (replica-protocol.ts REPLICA_OP_ERRORS).
 */
export class ReplicaOpRefusedError extends Error {
  override readonly name = "ReplicaOpRefusedError";
  constructor(
    readonly replica: NodeId,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The `error` code of a JSON error body, or a short excerpt. */
export function describeErrorBody(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === "string")
      return `${body.error}${typeof body.message === "string" ? `: ${body.message}` : ""}`;
  } catch {
    // Not JSON.
  }
  return text.slice(0, 120);
}
