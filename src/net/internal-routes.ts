// net/internal-routes.ts — the node-to-node routes without an HTTP server: one request's bytes in,
// the reply's bytes out. The simulator delivers peer requests here (sim/sim-http.ts); the node
// serves the same route groups through fastify (route-guard.ts mountNodeRoutes). Both apply
// node-route.ts's checks and refusals, so a request is answered and counted alike on either path.

import { GrapevineError } from "../core/errors.js";
import { createSecretCheck, type SecretCheck } from "./auth.js";
import {
  admitBody,
  admitSecret,
  refuseNodeRequest,
  type NodeRoute,
  type NodeRouteAnswer,
  type NodeRouteGroup,
} from "./node-route.js";

export interface InternalRequest {
  readonly method: "GET" | "POST";
  /** Path, possibly with a query (ignored, as fastify's router ignores it). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

export type InternalReply = NodeRouteAnswer;

/** Where a failure worth a log line goes; by default nowhere. */
export type InternalRoutesLog = (
  level: "debug" | "error",
  what: string,
  reason: string,
  error: unknown,
) => void;

const JSON_TYPE = "application/json; charset=utf-8";

interface Mounted {
  readonly group: NodeRouteGroup;
  readonly secret: SecretCheck;
  readonly route: NodeRoute;
}

function errorReply(error: GrapevineError): InternalReply {
  return {
    statusCode: error.status,
    contentType: JSON_TYPE,
    body: Buffer.from(JSON.stringify(error.toBody())),
  };
}

export class InternalRoutes {
  private readonly byPath = new Map<string, Mounted>();

  constructor(
    groups: readonly NodeRouteGroup[],
    private readonly log: InternalRoutesLog = () => undefined,
  ) {
    for (const group of groups) {
      const secret = createSecretCheck(group.clusterSecret);
      for (const route of group.routes) this.byPath.set(route.path, { group, secret, route });
    }
  }

  /** Never rejects: every failure is an answer, as over HTTP. */
  async handle(request: InternalRequest): Promise<InternalReply> {
    const path = request.path.split("?")[0] ?? "";
    const mounted = this.byPath.get(path);
    if (mounted === undefined)
      return errorReply(new GrapevineError("not_found", `no route ${request.method} ${path}`));
    if (request.method !== "POST") {
      const message = `${request.method} is not allowed on ${path}: it takes POST`;
      return errorReply(new GrapevineError("method_not_allowed", message, { allowed: ["POST"] }));
    }
    const { group, route } = mounted;
    const contentType = request.headers["content-type"];
    try {
      admitSecret(mounted.secret, request.headers);
      admitBody(contentType, request.body.length, route.bodyLimit);
      return await route.handle(request.body.length === 0 ? undefined : request.body);
    } catch (error) {
      const context = {
        bodyLimit: route.bodyLimit,
        ...(contentType === undefined ? {} : { contentType }),
      };
      const refusal = refuseNodeRequest(error, context, group.stats);
      if (refusal.log !== "none") this.log(refusal.log, group.what, refusal.reason, error);
      return errorReply(refusal.answer);
    }
  }
}
