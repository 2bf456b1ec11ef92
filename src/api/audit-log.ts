// api/audit-log.ts — one log line per operator action (issue 18 §5): who asked, what, and how it
// ended, for every request that changes the cluster rather than its data: the `/admin/` routes
// (repair, ring changes, stop, future records) and a bucket's properties. Reads are not audited,
// nor are data writes (those are the clients' business and would drown the log).
//
// Who: the bearer token's id when one came (never its secret), the client certificate's name and
// role (CN, OU) when the caller presented one the cluster's CA signed, and always the address it
// came from. A refused request is audited too (its status says so), with what it claimed. Logged
// at info (an operator action is rare and is exactly what info is for), `audit: true` so a log
// shipper can route it.

import type { TLSSocket } from "node:tls";
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import { bearerTokenOf } from "../security/token-book.js";
import { parseToken } from "../security/tokens.js";

/** Who asked, as the audit line names them. */
export interface AuditCaller {
  readonly address: string;
  /** The id of the bearer token the request carried (node/client-guard.ts judged it). */
  readonly token?: string;
  /** The certificate's CN, when one the CA signed came with the request. */
  readonly name?: string;
  /** The certificate's OU: a client's role. */
  readonly role?: string;
}

/** True for the routes that change the cluster (fastify's route pattern, e.g. `/admin/stop`). */
export function isAudited(method: string, routeUrl: string): boolean {
  if (method === "GET" || method === "HEAD") return false;
  return (
    routeUrl.startsWith("/admin/") || routeUrl === "/admin" || routeUrl === "/buckets/:bucket/props"
  );
}

/** The caller of a request, from its socket. */
export function callerOf(request: FastifyRequest): AuditCaller {
  const socket = request.raw.socket as Partial<TLSSocket>;
  const bearer = bearerTokenOf(request.headers.authorization);
  const tokenId = bearer === null ? undefined : parseToken(bearer)?.id;
  const address = socket.remoteAddress ?? "unknown";
  const base = { address, ...(tokenId === undefined ? {} : { token: tokenId }) };
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== "function") return base;
  const subject = socket.getPeerCertificate().subject as { CN?: unknown; OU?: unknown } | undefined;
  const name = typeof subject?.CN === "string" ? subject.CN : undefined;
  const role = typeof subject?.OU === "string" ? subject.OU : undefined;
  return {
    ...base,
    ...(name === undefined ? {} : { name }),
    ...(role === undefined ? {} : { role }),
  };
}

/** Installs the audit hook; every route registered after it is covered. */
export function registerAuditLog(app: FastifyInstance, log: FastifyBaseLogger): void {
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "";
    if (isAudited(request.method, route))
      log.info(
        {
          audit: true,
          who: callerOf(request),
          action: `${request.method} ${request.url.slice(0, 300)}`,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        "operator action",
      );
    done();
  });
}
