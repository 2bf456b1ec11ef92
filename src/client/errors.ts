// client/errors.ts — what a failed call of the client library throws.
//
// A node's refusal is a GrapevineError (core/errors.ts) with SPEC §2's code, status and details, so
// `error.code === "timeout"` reads the same in an application as in the node that answered. A
// failure with no answer at all (no node reachable, the call's deadline passed) is a
// GrapevineClientError, with a reason of its own. Both say whether a write may have been applied:
// the one thing a caller must know before it decides to write again (a retried PUT can land twice).

import { ERROR_TABLE, GrapevineError, type ErrorCode, type ErrorDetails } from "../core/errors.js";

/** Whether the refused operation may have changed the stored value anyway. */
export type Applied = "no" | "unknown";

/** A node's error answer (SPEC §2 error body), after the retries the client judged safe. */
export class GrapevineResponseError extends GrapevineError {
  override readonly name = "GrapevineResponseError";
  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails,
    /** The base URL of the node that answered last. */
    readonly node: string,
    readonly attempts: number,
    readonly applied: Applied,
  ) {
    super(code, message, details);
  }
}

/** Why no node answered. */
export type ClientFailureReason =
  /** The connection was refused, timed out while connecting, or the host is unknown. */
  | "unreachable"
  /** The request was sent, then the connection broke or no answer came in the attempt's time. */
  | "no_answer"
  /** The call's deadline passed before an attempt succeeded. */
  | "deadline"
  /** The answer was not what a Grapevine node sends (a proxy's page, a body too large). */
  | "bad_answer"
  /** close() was called. */
  | "closed";

export class GrapevineClientError extends Error {
  override readonly name = "GrapevineClientError";
  constructor(
    readonly reason: ClientFailureReason,
    message: string,
    readonly applied: Applied,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_TABLE, code);
}

/** The code a status stands for when the body names none this client knows (newer node, proxy). */
function codeOfStatus(status: number): ErrorCode {
  if (status === 503) return "unavailable";
  if (status === 504) return "timeout";
  if (status === 404) return "not_found";
  if (status === 413) return "value_too_large";
  return status >= 500 ? "internal" : "bad_request";
}

/** An error answer's SPEC §2 code, message and details (the body's other fields). */
export function parseErrorBody(
  status: number,
  body: string,
): { code: ErrorCode; message: string; details: ErrorDetails } {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    // Not JSON: judged by the status alone.
  }
  if (typeof parsed !== "object" || parsed === null) {
    const code = codeOfStatus(status);
    return { code, message: `${status}: ${body.slice(0, 200)}`, details: {} };
  }
  const { error, message, ...details } = parsed as Record<string, unknown>;
  const code = isErrorCode(error) ? error : codeOfStatus(status);
  const remote = isErrorCode(error) || error === undefined ? {} : { remoteCode: error };
  return {
    code,
    message: typeof message === "string" ? message : ERROR_TABLE[code].message,
    details: { ...details, ...remote },
  };
}
