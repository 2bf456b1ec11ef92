// net/route-guard.ts — what every node-to-node route does before its handler runs (ARCHITECTURE
// §6.5), on fastify: the cluster secret first (before the body is read), then the content type and
// size (only msgpack bodies within the route's limit are read), and one error handler that answers
// and counts each refusal as net/node-route.ts refuseNodeRequest decides (the same function the
// fastify-free InternalRoutes uses, so the two paths cannot answer differently). Applied inside an
// encapsulated fastify plugin, it governs that plugin's routes only.

import { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { judgeNodePeer } from "../security/peer-check.js";
import { errorContextOf, sendError } from "./fastify-errors.js";
import { createSecretCheck } from "./auth.js";
import { PEER_CONTENT_TYPE } from "./codec.js";
import {
  admitSecret,
  refuseNodeRequest,
  type NodeRouteGroup,
  type RefusalCounters,
} from "./node-route.js";

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

  // Only msgpack is a node-to-node body; fastify refuses any other type (415), which the handler
  // below turns into bad_request like every other malformed message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    PEER_CONTENT_TYPE,
    { parseAs: "buffer", bodyLimit: options.bodyLimit },
    (_request, body, done) => {
      done(null, body);
    },
  );

  app.setErrorHandler((error, request, reply) => {
    const refusal = refuseNodeRequest(error, errorContextOf(request), stats);
    if (refusal.log === "error")
      request.log.error({ err: error, url: request.url }, `${what} route failed`);
    else if (refusal.log === "debug")
      request.log.debug({ reason: refusal.reason }, `${what} request refused`);
    return sendError(reply, refusal.answer);
  });

  app.addHook("onRequest", async (request) => {
    const sender = admitPeerCertificate(request);
    if (sender !== undefined) senders.set(request, sender);
    admitSecret(secret, request.headers);
  });
}

/** The node id each admitted request's certificate names, for the handler's `from` check. */
const senders = new WeakMap<FastifyRequest, string>();

/**
 * Over TLS (a node started with --certs-dir), only a node certificate of the cluster's CA is
 * admitted: 401 without one or with another CA's, 403 with a client's (security/peer-check.ts).
 * The server asks every caller for a certificate but lets the handshake finish without one, so
 * clients without certificates still reach the client routes; this is where the node routes refuse
 * them. Over plain HTTP there is no certificate to judge and the cluster secret is the only check.
 * Returns the node id the certificate names: the handler refuses a message `from` another node.
 */
function admitPeerCertificate(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket;
  if (!(socket instanceof TLSSocket)) return undefined;
  const authorizationError = socket.authorizationError as Error | string | null | undefined;
  const verdict = judgeNodePeer(
    socket.authorized,
    authorizationError === null || authorizationError === undefined
      ? undefined
      : String(authorizationError),
    socket.getPeerCertificate(),
  );
  if (!verdict.admitted) throw new GrapevineError(verdict.code, verdict.why);
  return verdict.nodeId;
}

/**
 * Mounts a group's routes on fastify, guarded: each a thin adapter over the route's own handler.
 */
export function mountNodeRoutes(app: FastifyInstance, group: NodeRouteGroup): void {
  const bodyLimit = Math.max(...group.routes.map((route) => route.bodyLimit));
  guardNodeRoutes(app, {
    clusterSecret: group.clusterSecret,
    bodyLimit,
    stats: group.stats,
    what: group.what,
  });
  for (const route of group.routes) {
    // Hidden from the node's OpenAPI document (api/openapi.ts): peers holding the cluster secret
    // call these with msgpack, described by net/'s own message schemas; clients never do.
    const options = { bodyLimit: route.bodyLimit, schema: { hide: true } };
    app.post(route.path, options, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      const answer = await route.handle(body, senders.get(request));
      reply.code(answer.statusCode);
      if (answer.contentType === "") return reply.send();
      return reply.type(answer.contentType).send(answer.body);
    });
  }
}
