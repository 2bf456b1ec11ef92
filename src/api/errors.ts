// api/errors.ts — the one table of error codes (SPEC §2), the error class that carries a code, and
// the fastify handlers that render every failure as `{"error", "message", ...details}`.
//
// A GrapevineError is an expected outcome with a stable code. Anything else that reaches the handler
// (a failed assertion, a TypeError) is a bug: logged with the request's context and answered 500
// `internal`, without leaking its message. fastify's own client errors (unparsable bodies, bad
// content types, schema validation) are the caller's fault: 400 `bad_request`, in our words and
// without fastify's FST_ERR_* codes (those name fastify's internals, not the request's mistake); an
// oversized body is 413 `value_too_large`, whose message states the route's limit. The lower layers'
// own errors carry SPEC codes without importing this module: the coordinator's ReplicationError
// (`unavailable`, `timeout`, with their details) and a ConsistencyError (`bad_consistency`) are
// mapped here, in the one table's module.
//
// A request for a path that has routes, but not for its method, is 405 `method_not_allowed` with an
// `Allow` header listing the methods that path has (RFC 9110 §15.5.6), found by asking the router
// about each method; HEAD is allowed wherever GET is (fastify serves it), and OPTIONS is not served
// anywhere, so it gets the 405 and its Allow header too. Only a path no route matches is 404.
// What Node answers before fastify sees a request (a request line it cannot parse, headers over the
// limit, a request that does not arrive in time) is api/http-server.ts's business.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConsistencyError } from "../replication/consistency.js";
import { ReplicationError } from "../replication/coordinator.js";

export const ERROR_TABLE = {
  bad_key: { status: 400, message: "the key must be 1 to 1024 bytes of UTF-8" },
  bad_consistency: { status: 400, message: "the consistency level must be one, quorum, all or a replica count" },
  bad_request: { status: 400, message: "the request is malformed" },
  unauthorized: { status: 401, message: "this route needs the cluster secret" },
  not_found: { status: 404, message: "not found" },
  method_not_allowed: { status: 405, message: "this path does not take that method" },
  request_timeout: { status: 408, message: "the request did not arrive in time" },
  ring_change_in_progress: { status: 409, message: "another ring change is in progress" },
  member_live: { status: 409, message: "the member is live; removenode is for members that are down for good" },
  too_few_members: { status: 409, message: "the ring would have fewer members than the replication factor" },
  value_too_large: { status: 413, message: "the value is larger than the node accepts" },
  expectation_failed: { status: 417, message: "the only expectation the node meets is 100-continue" },
  headers_too_large: { status: 431, message: "the request's headers are larger than the node accepts" },
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
    (typeof candidate.code === "string" || candidate.validation !== undefined || error instanceof SyntaxError)
  );
}

/** fastify's code for a body over the route's bodyLimit (by Content-Length, or counted as it streams). */
export const FASTIFY_BODY_TOO_LARGE = "FST_ERR_CTP_BODY_TOO_LARGE";

/** What the error handler knows of the request, for messages that name the limit or the type refused. */
export interface ErrorContext {
  /** The route's body limit in bytes. */
  readonly bodyLimit?: number;
  readonly contentType?: string;
}

/** 413 `value_too_large`, saying what the limit is when it is known. */
export function valueTooLarge(bytesMax: number | undefined): GrapevineError {
  if (bytesMax === undefined) return new GrapevineError("value_too_large");
  return new GrapevineError("value_too_large", `the body is larger than this node accepts: over ${bytesMax} bytes`, { bytesMax });
}

/** fastify's refusal of a request, in our words: no FST_ERR_* code reaches a client. */
function fromFastifyClientError(error: FastifyError, context: ErrorContext): GrapevineError {
  switch (error.code) {
    case FASTIFY_BODY_TOO_LARGE:
      return valueTooLarge(context.bodyLimit);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new GrapevineError(
        "bad_request",
        context.contentType === undefined
          ? "this route does not accept a body without a Content-Type"
          : `this route does not accept the Content-Type ${JSON.stringify(context.contentType.slice(0, 100))}`,
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new GrapevineError("bad_request", "the body is not valid JSON");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new GrapevineError("bad_request", "the body is empty, but its Content-Type says JSON");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new GrapevineError("bad_request", "the body's length does not match its Content-Length");
    case "FST_ERR_BAD_URL":
      return new GrapevineError("bad_request", "the URL's percent-encoding is malformed or not UTF-8");
    default:
      break;
  }
  // fastify's JSON parser hands on the parser's SyntaxError, with a 400 but no code.
  if (error instanceof SyntaxError) return new GrapevineError("bad_request", "the body is not valid JSON");
  // Schema validation and the rest: fastify's message says what was wrong; its code stays inside.
  return new GrapevineError("bad_request", error.message);
}

/** Maps anything thrown by a route or by fastify to the error it is answered with. */
export function toGrapevineError(error: unknown, context: ErrorContext = {}): GrapevineError | null {
  if (error instanceof GrapevineError) return error;
  if (error instanceof ReplicationError) return new GrapevineError(error.code, error.message, error.details);
  if (error instanceof ConsistencyError) return new GrapevineError("bad_consistency", error.message);
  if (isFastifyClientError(error)) return fromFastifyClientError(error, context);
  return null;
}

/** The limit and type of the request being answered, for toGrapevineError's messages. */
export function errorContextOf(request: FastifyRequest): ErrorContext {
  const contentType = request.headers["content-type"];
  return {
    bodyLimit: request.routeOptions.bodyLimit,
    ...(contentType === undefined ? {} : { contentType }),
  };
}

export function sendError(reply: FastifyReply, error: GrapevineError): FastifyReply {
  return reply.code(error.status).type("application/json; charset=utf-8").send(error.toBody());
}

function handleError(this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const known = toGrapevineError(error, errorContextOf(request));
  if (known !== null) {
    request.log.debug({ code: known.code, url: request.url }, known.message);
    void sendError(reply, known);
    return;
  }
  request.log.error({ err: error, method: request.method, url: request.url }, "internal error");
  void sendError(reply, new GrapevineError("internal"));
}

/** The methods a router can have a route for; HEAD comes with GET (fastify's exposeHeadRoutes). */
const HTTP_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] as const;

/** The methods some route takes for this path (no query), in alphabetical order; empty when no route matches it. */
export function allowedMethods(app: Pick<FastifyInstance, "findRoute">, path: string): string[] {
  return HTTP_METHODS.filter((method) => {
    try {
      return app.findRoute({ method, url: path }) !== null;
    } catch {
      return false;
    }
  });
}

/** Installs the error and not-found handlers on a fastify instance (root or plugin scope). */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    const allowed = allowedMethods(app, path);
    if (allowed.length > 0) {
      void sendError(
        reply.header("allow", allowed.join(", ")),
        new GrapevineError("method_not_allowed", `${request.method} is not allowed on ${path}: it takes ${allowed.join(", ")}`, { allowed }),
      );
      return;
    }
    void sendError(reply, new GrapevineError("not_found", `no route ${request.method} ${path}`));
  });
}
