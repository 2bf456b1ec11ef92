// api/errors.ts — the fastify handlers that render every failure of the client API as
// `{"error", "message", ...details}`. The table of codes and the error class that carries one are
// core/errors.ts's; rendering a coded error as a reply and fastify's own refusals in our words are
// net/fastify-errors.ts's (the node-to-node routes answer the same way).
//
// A GrapevineError is an expected outcome with a stable code: lower layers throw it directly, so it
// is answered as it is. Anything else that reaches the handler (a failed assertion, a TypeError) is
// a bug: logged with the request's context and answered 500 `internal`, without leaking its
// message.
//
// A request for a path that has routes, but not for its method, is 405 `method_not_allowed` with an
// `Allow` header listing the methods that path has (RFC 9110 §15.5.6), found by asking the router
// about each method; HEAD is allowed wherever GET is (fastify serves it), and OPTIONS is not served
// anywhere, so it gets the 405 and its Allow header too. A path no route matches is 404, and so is
// one whose route of the request's method found nothing to serve (a console file not there).
// What Node answers before fastify sees a request (a request line it cannot parse, headers over the
// limit, a request that does not arrive in time) is api/http-server.ts's business.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { errorContextOf, sendError, toGrapevineError } from "../net/fastify-errors.js";

function handleError(
  this: FastifyInstance,
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
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

/**
 * The methods some route takes for this path (no query), in alphabetical order; empty when no route
 * matches it.
 */
export function allowedMethods(app: Pick<FastifyInstance, "findRoute">, path: string): string[] {
  return HTTP_METHODS.filter((method) => {
    try {
      // Typed as always a route, but null (or undefined in older releases) when none matches.
      const found: unknown = app.findRoute({ method, url: path });
      return found !== null && found !== undefined;
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
    // A route of this very method that found nothing to serve (a static file that is not there)
    // calls this handler too: that is a 404, not a method the path does not take.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      void sendError(
        reply.header("allow", allowed.join(", ")),
        new GrapevineError(
          "method_not_allowed",
          `${request.method} is not allowed on ${path}: it takes ${allowed.join(", ")}`,
          { allowed },
        ),
      );
      return;
    }
    void sendError(reply, new GrapevineError("not_found", `no route ${request.method} ${path}`));
  });
}
