// node/client-guard.ts — every client and operator request of a TLS node authenticated (issue 18
// §3), as a fastify onRequest hook that runs before any body is read. The route's need comes from
// security/route-access.ts; the caller is, in order:
//
//   1. a bearer token (`Authorization: Bearer gv_…`), judged against the token records the cluster
//      metadata holds (security/token-book.ts). A header that is there but wrong is a 401 even when
//      a good certificate came with it: a caller who names a credential is judged by it.
//   2. else a client certificate of the cluster's CA, its role its OU (security/client-check.ts);
//      a node certificate may only read /cluster/* and create a token (route-access.ts).
//   3. else nobody: 401.
//
// A request that changes state and is authenticated by a certificate alone (which a browser
// presents on its own) must show it was not sent by a page of another site: it carries
// X-Grapevine-Request or a content type no form can send, or it is a 403 (route-access.ts).
//
// Every refusal is answered with the SPEC §2 body, counted by reason, and logged at warn with the
// caller's address, a few lines per period at most (node/warn-throttle.ts).

import { TLSSocket } from "node:tls";
import type { FastifyReply, FastifyRequest } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { sendError } from "../net/fastify-errors.js";
import { judgeClientCertificate } from "../security/client-check.js";
import {
  couldBeCrossSite,
  isSafeMethod,
  nodeCertificateMay,
  roleIncludes,
  routeAccess,
} from "../security/route-access.js";
import type { Role } from "../security/roles.js";
import { bearerTokenOf, judgeToken, type TokenRecord } from "../security/token-book.js";
import type { Logger } from "./logger.js";
import { WarnThrottle } from "./warn-throttle.js";

export const CLIENT_GUARD_LIMITS = {
  /** Refusal lines logged per period; the rest are counted in the next line. */
  warnLinesMax: 10,
  warnPeriodMs: 10_000,
} as const;

export interface ClientGuardDeps {
  readonly lookupToken: (id: string) => TokenRecord | null;
  /** Wall-clock now, ms since the epoch (tokens expire by it). */
  readonly nowMs: () => number;
  readonly countRefusal: (reason: string) => void;
  readonly log: Logger;
  /** `--metrics-open`: GET /metrics needs no credential. */
  readonly metricsOpen?: boolean;
}

/** Who made a request, once admitted. */
export type Caller =
  | { readonly kind: "token"; readonly id: string; readonly role: Role }
  | { readonly kind: "client"; readonly name: string; readonly role: Role }
  | { readonly kind: "node"; readonly nodeId: string };

interface Refused {
  readonly refused: GrapevineError;
  readonly reason: string;
  /** For the log: which credential, without its secret. */
  readonly who?: string;
}

function unauthorized(reason: string, message: string, who?: string): Refused {
  return { refused: new GrapevineError("unauthorized", message), reason, ...(who ? { who } : {}) };
}

function forbidden(reason: string, message: string, who: string): Refused {
  return { refused: new GrapevineError("forbidden", message), reason, who };
}

function tokenMessage(reason: string): string {
  return reason === "malformed"
    ? "the Authorization header is not `Bearer gv_<id>_<secret>`"
    : "the token is not valid (unknown, wrong, revoked or expired)";
}

/** The caller a request's credentials name, or why they do not name one. */
export function identify(request: FastifyRequest, deps: ClientGuardDeps): Caller | Refused {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const text = bearerTokenOf(authorization);
    const verdict =
      text === null
        ? ({ admitted: false, reason: "malformed" } as const)
        : judgeToken(text, deps.lookupToken, deps.nowMs());
    if (verdict.admitted) return { kind: "token", id: verdict.id, role: verdict.role };
    const who = verdict.id === undefined ? undefined : `token ${verdict.id}`;
    return unauthorized(verdict.reason, tokenMessage(verdict.reason), who);
  }
  const socket = request.raw.socket;
  if (!(socket instanceof TLSSocket))
    return unauthorized("no_credential", "a bearer token or a client certificate is needed");
  const error = socket.authorizationError as Error | string | null | undefined;
  const cert = judgeClientCertificate(
    socket.authorized,
    error === null || error === undefined ? undefined : String(error),
    socket.getPeerCertificate(),
  );
  if (cert.kind === "none")
    return unauthorized("no_credential", "a bearer token or a client certificate is needed");
  if (cert.kind === "refused") return unauthorized("bad_certificate", cert.why);
  return cert;
}

function describe(caller: Caller): string {
  if (caller.kind === "token") return `token ${caller.id} (${caller.role})`;
  if (caller.kind === "client") return `client ${caller.name} (${caller.role})`;
  return `node ${caller.nodeId}`;
}

/** Whether `caller` may make this request; the refusal when not. */
export function authorize(request: FastifyRequest, caller: Caller, role: Role): Refused | null {
  const who = describe(caller);
  const { method, url } = request;
  if (caller.kind === "node") {
    if (!nodeCertificateMay(method, url))
      return forbidden("node_certificate", "a node certificate is not a client's", who);
  } else if (!roleIncludes(caller.role, role)) {
    return forbidden("role", `this needs the ${role} role; the caller is ${caller.role}`, who);
  }
  if (caller.kind !== "token" && !isSafeMethod(method) && couldBeCrossSite(request.headers))
    return forbidden(
      "cross_site",
      "a change authenticated by a certificate alone needs the X-Grapevine-Request header",
      who,
    );
  return null;
}

/** The onRequest hook; install it only on a node that serves TLS. */
export function clientGuard(deps: ClientGuardDeps) {
  const throttle = new WarnThrottle(
    CLIENT_GUARD_LIMITS.warnLinesMax,
    CLIENT_GUARD_LIMITS.warnPeriodMs,
  );
  const refuse = (request: FastifyRequest, reply: FastifyReply, refusal: Refused) => {
    deps.countRefusal(refusal.reason);
    const { log, suppressed } = throttle.admit(deps.nowMs());
    if (log)
      deps.log.warn(
        {
          address: request.ip,
          method: request.method,
          url: request.url.slice(0, 200),
          reason: refusal.reason,
          ...(refusal.who === undefined ? {} : { caller: refusal.who }),
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        `request refused: ${refusal.refused.code}`,
      );
    return sendError(reply, refusal.refused);
  };
  // An async hook that answers returns the reply, so fastify runs nothing after it.
  return async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    const access = routeAccess(request.method, request.url, {
      metricsOpen: deps.metricsOpen === true,
    });
    if (access.kind !== "role") return undefined;
    const caller = identify(request, deps);
    if ("refused" in caller) return refuse(request, reply, caller);
    const refusal = authorize(request, caller, access.role);
    return refusal === null ? undefined : refuse(request, reply, refusal);
  };
}
