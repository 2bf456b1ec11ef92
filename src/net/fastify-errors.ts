// net/fastify-errors.ts — a coded error as a fastify reply, and fastify's own refusals in our
// words.
//
// Both HTTP surfaces answer failures the same way: the client API (api/errors.ts, whose handler
// also does 404, 405 and the logging of bugs) and the node-to-node routes (net/route-guard.ts).
// This module is the part they share; it lives in net/ because api/ may import net/ but net/ may
// not import api/ (ARCHITECTURE §1), and the table itself is core/errors.ts's.
//
// fastify's own client errors (unparsable bodies, bad content types, schema validation) are the
// caller's fault: 400 `bad_request`, in our words and without fastify's FST_ERR_* codes (those name
// fastify's internals, not the request's mistake); an oversized body is 413 `value_too_large`,
// whose message states the route's limit.

import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { GrapevineError } from "../core/errors.js";

function isFastifyClientError(error: unknown): error is FastifyError {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as Partial<FastifyError>;
  const status = candidate.statusCode;
  return (
    typeof status === "number" &&
    status >= 400 &&
    status < 500 &&
    (typeof candidate.code === "string" ||
      candidate.validation !== undefined ||
      error instanceof SyntaxError)
  );
}

/**
 * fastify's code for a body over the route's bodyLimit (by Content-Length, or counted as it
 * streams).
 */
const FASTIFY_BODY_TOO_LARGE = "FST_ERR_CTP_BODY_TOO_LARGE";

/**
 * What the error handler knows of the request, for messages that name the limit or the type
 * refused.
 */
export interface ErrorContext {
  /** The route's body limit in bytes. */
  readonly bodyLimit?: number;
  readonly contentType?: string;
}

/** 413 `value_too_large`, saying what the limit is when it is known. */
export function valueTooLarge(bytesMax: number | undefined): GrapevineError {
  if (bytesMax === undefined) return new GrapevineError("value_too_large");
  return new GrapevineError(
    "value_too_large",
    `the body is larger than this node accepts: over ${bytesMax} bytes`,
    { bytesMax },
  );
}

/** 400 `bad_request` for a body of a type the route does not take, naming the type (cut short). */
export function unsupportedContentType(contentType: string | undefined): GrapevineError {
  return new GrapevineError(
    "bad_request",
    contentType === undefined
      ? "this route does not accept a body without a Content-Type"
      : `this route does not accept the Content-Type ${JSON.stringify(contentType.slice(0, 100))}`,
  );
}

/** fastify's refusal of a request, in our words: no FST_ERR_* code reaches a client. */
function fromFastifyClientError(error: FastifyError, context: ErrorContext): GrapevineError {
  switch (error.code) {
    case FASTIFY_BODY_TOO_LARGE:
      return valueTooLarge(context.bodyLimit);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return unsupportedContentType(context.contentType);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new GrapevineError("bad_request", "the body is not valid JSON");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new GrapevineError("bad_request", "the body is empty, but its Content-Type says JSON");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new GrapevineError(
        "bad_request",
        "the body's length does not match its Content-Length",
      );
    case "FST_ERR_BAD_URL":
      return new GrapevineError(
        "bad_request",
        "the URL's percent-encoding is malformed or not UTF-8",
      );
    default:
      break;
  }
  // fastify's JSON parser hands on the parser's SyntaxError, with a 400 but no code.
  if (error instanceof SyntaxError)
    return new GrapevineError("bad_request", "the body is not valid JSON");
  // Schema validation and the rest: fastify's message says what was wrong; its code stays inside.
  return new GrapevineError("bad_request", error.message);
}

/**
 * The coded error anything thrown by a route or by fastify is answered with: a GrapevineError as it
 * is, fastify's refusals in our words; null for anything else, which is a bug (500 `internal`).
 */
export function toGrapevineError(
  error: unknown,
  context: ErrorContext = {},
): GrapevineError | null {
  if (error instanceof GrapevineError) return error;
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
