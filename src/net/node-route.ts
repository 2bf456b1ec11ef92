// net/node-route.ts — a node-to-node route without its HTTP server: its path, its body bound and a
// handler from the body's bytes to the reply's, plus the checks and refusals every such route
// shares.
//
// The same route objects serve two ways in: fastify (route-guard.ts mountNodeRoutes, for real HTTP)
// and InternalRoutes (internal-routes.ts, which the simulator calls with the same bytes). So that
// the two can never answer differently, everything either path decides lives here once: the secret
// check, the content type and size admission the internal path applies (fastify applies the same
// rules natively, and its refusals are put in the same words by fastify-errors.ts), and the mapping
// of any failure to the answer and the counter it costs.

import { GrapevineError } from "../core/errors.js";
import { StoreOverloadedError } from "../storage/store.js";
import { CLUSTER_SECRET_HEADER, type SecretCheck } from "./auth.js";
import { decodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import {
  toGrapevineError,
  unsupportedContentType,
  valueTooLarge,
  type ErrorContext,
} from "./fastify-errors.js";

/** The refusal counters a guarded route keeps, read by the metrics. */
export interface RefusalCounters {
  refusedMalformed: number;
  refusedUnauthorized: number;
}

/** What a route answers: a status, the body's type ("" with no body) and its bytes. */
export interface NodeRouteAnswer {
  readonly statusCode: number;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface NodeRoute {
  readonly path: string;
  /** The largest body the route reads, bytes. */
  readonly bodyLimit: number;
  /**
   * Answers one admitted request (secret, content type and size already checked); `body` is
   * undefined when the request had none. Throws for a refused request (a GrapevineError, or a store
   * error), which refuseNodeRequest turns into the answer. `sender` is the node id the caller's
   * mTLS certificate names (over TLS; undefined otherwise): the body's `from` must be it.
   */
  handle(body: Buffer | undefined, sender?: string): Promise<NodeRouteAnswer>;
}

/** The routes of one protocol, with the guard they share (one fastify plugin's worth). */
export interface NodeRouteGroup {
  readonly clusterSecret: string | null;
  readonly stats: RefusalCounters;
  /** Names the routes in logs: "peer", "replica". */
  readonly what: string;
  readonly routes: readonly NodeRoute[];
}

export const NO_CONTENT: NodeRouteAnswer = {
  statusCode: 204,
  contentType: "",
  body: Buffer.alloc(0),
};

export function msgpackAnswer(body: Buffer): NodeRouteAnswer {
  return { statusCode: 200, contentType: PEER_CONTENT_TYPE, body };
}

/** The cluster secret, checked before anything of the body is read. */
export function admitSecret(
  secret: SecretCheck,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): void {
  if (!secret.accepts(headers[CLUSTER_SECRET_HEADER])) throw new GrapevineError("unauthorized");
}

/**
 * The media type of a Content-Type header (no parameters, lower case), as fastify matches parsers.
 */
function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(";");
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * The content type and size a route takes, as fastify admits them before the handler: a request
 * with no Content-Type and no body goes on (the handler refuses the empty body); any other body
 * must be msgpack and within the route's limit.
 */
export function admitBody(
  contentType: string | undefined,
  bodyBytes: number,
  bodyLimit: number,
): void {
  if (contentType === undefined && bodyBytes === 0) return;
  if (contentType === undefined || mediaTypeOf(contentType) !== PEER_CONTENT_TYPE) {
    throw unsupportedContentType(contentType);
  }
  if (bodyBytes > bodyLimit) throw valueTooLarge(bodyLimit);
}

/** How a refused request is answered, and what the route's log says of it. */
export interface Refusal {
  readonly answer: GrapevineError;
  /**
   * "error" for a bug (the failure is logged with its stack), "debug" for a peer's fault or
   * back-off.
   */
  readonly log: "debug" | "error" | "none";
  readonly reason: string;
}

/**
 * The answer to anything a route or its guard threw, counting it in the route's stats: 401 for the
 * secret or a missing or foreign certificate, 403 for a client's certificate, 503 `unavailable`
 * for an overloaded store (this node's state, not the caller's fault: the peer should back off; a
 * 400 would say its message was wrong, a 500 that this node is broken), 500 `internal` for a bug,
 * and 400 `bad_request` for every other refusal (an oversized body included: a peer that sends one
 * has a bug, not a value to shrink).
 */
export function refuseNodeRequest(
  error: unknown,
  context: ErrorContext,
  stats: RefusalCounters,
): Refusal {
  if (error instanceof StoreOverloadedError) {
    return {
      answer: new GrapevineError("unavailable", error.message),
      log: "debug",
      reason: "store overloaded",
    };
  }
  const known = toGrapevineError(error, context);
  if (known === null)
    return { answer: new GrapevineError("internal"), log: "error", reason: "route failed" };
  if (known.code === "unavailable") return { answer: known, log: "none", reason: known.message };
  if (known.code === "unauthorized" || known.code === "forbidden") {
    stats.refusedUnauthorized++;
    return { answer: known, log: "none", reason: known.message };
  }
  stats.refusedMalformed++;
  return {
    answer: new GrapevineError("bad_request", known.message, known.details),
    log: "debug",
    reason: known.message,
  };
}

/** The non-empty msgpack body a route decodes, or its `bad_request`. */
export function requireBody(body: Buffer | undefined, what: string): Buffer {
  if (body === undefined || body.length === 0) {
    throw new GrapevineError("bad_request", `${what} is a non-empty ${PEER_CONTENT_TYPE} body`);
  }
  return body;
}

/**
 * The decoded msgpack of a route's body, or its `bad_request`. With `sender` (the node id of the
 * caller's mTLS certificate), a message whose `from` names another node is a 403 (issue 18 §5): a
 * node may speak only for itself, so one node's key cannot forge another's gossip or writes. A
 * message without a `from` goes on to its schema check, which refuses it.
 */
export function decodeNodeBody(body: Buffer, sender?: string): unknown {
  let decoded: unknown;
  try {
    decoded = decodePeerBody(body);
  } catch {
    throw new GrapevineError("bad_request", "the body is not valid msgpack");
  }
  if (sender !== undefined && typeof decoded === "object" && decoded !== null) {
    const from = (decoded as { from?: unknown }).from;
    if (typeof from === "string" && from !== sender)
      throw new GrapevineError(
        "forbidden",
        `the message claims to be from ${JSON.stringify(from.slice(0, 64))} but the certificate is node ${JSON.stringify(sender)}'s`,
      );
  }
  return decoded;
}
