// net/route-guard.ts — what every node-to-node route does before its handler runs (ARCHITECTURE §6.5):
// the cluster secret first (before the body is read), then the content type and size (only msgpack
// bodies within the route's limit are read), and one error handler that answers 401 `unauthorized` or
// 400 `bad_request` and counts each refusal, or 503 `unavailable` when the store is overloaded (the
// peer should back off, its message was fine). Applied inside an encapsulated fastify plugin, it
// governs that plugin's routes only.

import type { FastifyInstance } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { errorContextOf, sendError, toGrapevineError } from "./fastify-errors.js";
import { StoreOverloadedError } from "../storage/store.js";
import { CLUSTER_SECRET_HEADER, createSecretCheck } from "./auth.js";
import { PEER_CONTENT_TYPE } from "./codec.js";

/** The refusal counters a guarded route keeps, read by the metrics. */
export interface RefusalCounters {
  refusedMalformed: number;
  refusedUnauthorized: number;
}

export interface RouteGuardOptions {
  readonly clusterSecret: string | null;
  readonly bodyLimit: number;
  readonly stats: RefusalCounters;
  /** Names the route in logs: "peer", "replica". */
  readonly what: string;
}

export function guardNodeRoutes(app: FastifyInstance, options: RouteGuardOptions): void {
  const { stats, what } = options;
  const secret = createSecretCheck(options.clusterSecret);

  // Only msgpack is a node-to-node body; fastify refuses any other type (415), which the handler below
  // turns into bad_request like every other malformed message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(PEER_CONTENT_TYPE, { parseAs: "buffer", bodyLimit: options.bodyLimit }, (_request, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((error, request, reply) => {
    // An overloaded store is this node's state, not the caller's fault: 503 tells the peer to back off
    // and come again (a 400 would say its message was wrong, a 500 that this node is broken).
    if (error instanceof StoreOverloadedError) {
      request.log.debug({ reason: error.message }, `${what} request refused: store overloaded`);
      return sendError(reply, new GrapevineError("unavailable", error.message));
    }
    const known = toGrapevineError(error, errorContextOf(request));
    if (known !== null && known.code === "unavailable") return sendError(reply, known);
    if (known === null) {
      request.log.error({ err: error, url: request.url }, `${what} route failed`);
      return sendError(reply, new GrapevineError("internal"));
    }
    if (known.code === "unauthorized") {
      stats.refusedUnauthorized++;
      return sendError(reply, known);
    }
    stats.refusedMalformed++;
    request.log.debug({ reason: known.message }, `${what} request refused`);
    return sendError(reply, new GrapevineError("bad_request", known.message, known.details));
  });

  app.addHook("onRequest", async (request) => {
    if (!secret.accepts(request.headers[CLUSTER_SECRET_HEADER])) throw new GrapevineError("unauthorized");
  });
}
