// api/topology-routes.ts — the operator's ring changes (SPEC §3): `POST /admin/decommission` (this
// node leaves the ring and exits) and `POST /admin/removenode/:id` (drop a dead member), both 202
// with the change once it has started, and `GET /admin/ring-change` for the change this node runs
// or ran last (the CLI polls it). A refused change answers the SPEC §2 error body: 409
// `ring_change_in_progress` naming the change in progress, 409 `member_live`, 409
// `too_few_members`, 404 `not_found` for an unknown member, 400 `bad_request` otherwise.

import type { FastifyPluginAsync } from "fastify";
import { NODE_ID_BYTES_MAX } from "../core/limits.js";
import { GrapevineError } from "../core/errors.js";
import type { LocalChange, TopologyService } from "../topology/topology-service.js";

export interface TopologyRoutesOptions {
  readonly service: Pick<TopologyService, "startDecommission" | "startRemoveNode" | "change">;
}

/** A node id in a path: what --id accepts, bounded. */
const NODE_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${NODE_ID_BYTES_MAX}}$`);

export interface RingChangeBody {
  readonly kind: LocalChange["kind"];
  readonly id: string;
  readonly state: LocalChange["state"];
  readonly error: string | null;
  readonly keys: number;
  readonly bytes: number;
  readonly seconds: number | null;
}

export function ringChangeBody(change: LocalChange): RingChangeBody {
  return {
    kind: change.kind,
    id: change.id,
    state: change.state,
    error: change.error,
    keys: change.keys,
    bytes: change.bytes,
    seconds:
      change.finishedMs === null ? null : Math.round(change.finishedMs - change.startedMs) / 1000,
  };
}

export const topologyRoutes: FastifyPluginAsync<TopologyRoutesOptions> = async (app, options) => {
  const { service } = options;

  app.post("/admin/decommission", async (_request, reply) => {
    const change = service.startDecommission();
    return reply.code(202).send({ change: ringChangeBody(change) });
  });

  app.post<{ Params: { id: string } }>("/admin/removenode/:id", async (request, reply) => {
    const id = request.params.id;
    if (!NODE_ID_PATTERN.test(id))
      throw new GrapevineError(
        "bad_request",
        `a member id is 1 to ${NODE_ID_BYTES_MAX} printable characters`,
      );
    const change = service.startRemoveNode(id);
    return reply.code(202).send({ change: ringChangeBody(change) });
  });

  app.get("/admin/ring-change", async () => {
    const change = service.change();
    return { change: change === null ? null : ringChangeBody(change) };
  });
};
