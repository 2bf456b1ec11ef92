// api/errors.ts — the one table of error codes (SPEC §2), the error class that carries a code, and
// the fastify handlers that render every failure as `{"error", "message", ...details}`.
//
// A GrapevineError is an expected outcome with a stable code. Anything else that reaches the handler
// (a failed assertion, a TypeError) is a bug: logged with the request's context and answered 500
// `internal`, without leaking its message. fastify's own client errors (unparsable bodies, bad
// content types, schema validation) are the caller's fault: 400 `bad_request`; an oversized body is
// 413 `value_too_large`. The lower layers' own errors carry SPEC codes without importing this
// module: the coordinator's ReplicationError (`unavailable`, `timeout`, with their details) and a
// ConsistencyError (`bad_consistency`) are mapped here, in the one table's module.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConsistencyError } from "../replication/consistency.js";
import { ReplicationError } from "../replication/coordinator.js";

export const ERROR_TABLE = {
  bad_key: { status: 400, message: "the key must be 1 to 1024 bytes of UTF-8" },
  bad_consistency: { status: 400, message: "the consistency level must be one, quorum, all or a replica count" },
  bad_request: { status: 400, message: "the request is malformed" },
  unauthorized: { status: 401, message: "this route needs the cluster secret" },
  not_found: { status: 404, message: "not found" },
  ring_change_in_progress: { status: 409, message: "another ring change is in progress" },
  member_live: { status: 409, message: "the member is live; removenode is for members that are down for good" },
  too_few_members: { status: 409, message: "the ring would have fewer members than the replication factor" },
  value_too_large: { status: 413, message: "the value is larger than the node accepts" },
  internal: { status: 500, message: "internal error" },
  unavailable: { status: 503, message: "not enough live replicas" },
  timeout: { status: 504, message: "replicas did not answer in time" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface ErrorBody {
  readonly error: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export class GrapevineError extends Error {
  override readonly name = "GrapevineError";
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message ?? ERROR_TABLE[code].message);
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_TABLE, value);
}

/** The JSON body; details never overwrite `error` or `message`. */
export function errorBody(code: ErrorCode, message?: string, details: ErrorDetails = {}): ErrorBody {
  return { ...details, error: code, message: message ?? ERROR_TABLE[code].message };
}

function isFastifyClientError(error: unknown): error is FastifyError {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as Partial<FastifyError>;
  const status = candidate.statusCode;
  return (
    typeof status === "number" &&
    status >= 400 &&
    status < 500 &&
    (typeof candidate.code === "string" || candidate.validation !== undefined)
  );
}

/** fastify's code for a body over the route's bodyLimit (by Content-Length, or counted as it streams). */
export const FASTIFY_BODY_TOO_LARGE = "FST_ERR_CTP_BODY_TOO_LARGE";

/** Maps anything thrown by a route or by fastify to the error it is answered with. */
export function toGrapevineError(error: unknown): GrapevineError | null {
  if (error instanceof GrapevineError) return error;
  if (error instanceof ReplicationError) return new GrapevineError(error.code, error.message, error.details);
  if (error instanceof ConsistencyError) return new GrapevineError("bad_consistency", error.message);
  if (isFastifyClientError(error)) {
    if (error.code === FASTIFY_BODY_TOO_LARGE) return new GrapevineError("value_too_large");
    return new GrapevineError("bad_request", error.message, error.code ? { reason: error.code } : {});
  }
  return null;
}

export function sendError(reply: FastifyReply, error: GrapevineError): FastifyReply {
  return reply.code(error.status).type("application/json; charset=utf-8").send(error.toBody());
}

function handleError(this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const known = toGrapevineError(error);
  if (known !== null) {
    request.log.debug({ code: known.code, url: request.url }, known.message);
    void sendError(reply, known);
    return;
  }
  request.log.error({ err: error, method: request.method, url: request.url }, "internal error");
  void sendError(reply, new GrapevineError("internal"));
}

/** Installs the error and not-found handlers on a fastify instance (root or plugin scope). */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void sendError(reply, new GrapevineError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`));
  });
}
