// api/topology-routes.ts — the operator's ring changes (SPEC §3): `POST /admin/decommission` (this
// node leaves the ring and exits) and `POST /admin/removenode/:id` (drop a dead member), both 202
// with the change once it has started, and `GET /admin/ring-change` for the change this node runs
// or ran last (the CLI polls it). A refused change answers the SPEC §2 error body: 409
// `ring_change_in_progress` naming the change in progress, 409 `member_live`, 409
// `too_few_members`, 404 `not_found` for an unknown member, 400 `bad_request` otherwise.

import type { Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type { LocalChange, TopologyService } from "../topology/topology-service.js";
import { RemoveNodeParams, RingChangeAnswer, RingChangeStarted } from "./admin-schemas.js";
import { answers } from "./answer-schemas.js";

export interface TopologyRoutesOptions {
  readonly service: Pick<TopologyService, "startDecommission" | "startRemoveNode" | "change">;
}

const DECOMMISSION_SCHEMA = {
  summary: "This node leaves the ring, streams its ranges away and exits",
  tags: ["admin"],
  response: answers(
    { 202: RingChangeStarted },
    "bad_request",
    "ring_change_in_progress",
    "too_few_members",
  ),
};

const REMOVE_NODE_SCHEMA = {
  summary: "Drops a member that is down for good; its ranges are streamed from other replicas",
  tags: ["admin"],
  params: RemoveNodeParams,
  response: answers(
    { 202: RingChangeStarted },
    "bad_request",
    "not_found",
    "ring_change_in_progress",
    "member_live",
  ),
};

const RING_CHANGE_SCHEMA = {
  summary: "The ring change this node runs or ran last",
  tags: ["admin"],
  response: answers({ 200: RingChangeAnswer }),
};

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

  app.post("/admin/decommission", { schema: DECOMMISSION_SCHEMA }, async (_request, reply) => {
    const change = service.startDecommission();
    return reply.code(202).send({ change: ringChangeBody(change) });
  });

  app.post("/admin/removenode/:id", { schema: REMOVE_NODE_SCHEMA }, async (request, reply) => {
    // The id's pattern (what --id accepts, bounded) is checked before this runs.
    const { id } = request.params as Static<typeof RemoveNodeParams>;
    const change = service.startRemoveNode(id);
    return reply.code(202).send({ change: ringChangeBody(change) });
  });

  app.get("/admin/ring-change", { schema: RING_CHANGE_SCHEMA }, async () => {
    const change = service.change();
    return { change: change === null ? null : ringChangeBody(change) };
  });
};
