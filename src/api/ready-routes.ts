// api/ready-routes.ts — `GET /ready`, the readiness probe: 200 `{"status":"ready"}` only while this
// node serves clients, 503 `unavailable` with a `reason` otherwise. `/health` stays the liveness
// probe (the process is up and answers); `/ready` is what a load balancer, a compose healthcheck or
// `grapevine dev` waits on before sending clients.
//
// A node is not ready while it is
//   - `starting`: it has not learned the ring yet (cluster/ring-settle.ts) and refuses client
//     requests;
//   - `draining`: it has begun to shut down; requests in flight finish, new ones are refused;
//   - `clock_offset`: its wall clock is out of range of its peers' (the clock-offset fence, time/),
//     so the timestamps it would stamp could not be trusted.
// When several hold, the one reported is the one that will last longest: draining ends only with
// the process, and a node still starting cannot judge its clock against peers it has not heard
// from.

import type { FastifyPluginAsync } from "fastify";
import { errorBody } from "../core/errors.js";
import { answers } from "./answer-schemas.js";
import { ReadyBody } from "./cluster-schemas.js";

export const READY_PATH = "/ready";

export type NotReadyReason = "starting" | "draining" | "clock_offset";

export type Readiness =
  { readonly ready: true } | { readonly ready: false; readonly reason: NotReadyReason };

/** What the node knows about itself, each as it stands now. */
export interface ReadinessInputs {
  /** Shutdown has begun. */
  readonly draining: boolean;
  /** The ring is learned: the node coordinates client requests (cluster/ring-settle.ts). */
  readonly ringSettled: boolean;
  /** The wall clock is within range of the peers' (true where nothing measures it). */
  readonly clockInRange: boolean;
}

export function readinessOf(inputs: ReadinessInputs): Readiness {
  if (inputs.draining) return { ready: false, reason: "draining" };
  if (!inputs.ringSettled) return { ready: false, reason: "starting" };
  if (!inputs.clockInRange) return { ready: false, reason: "clock_offset" };
  return { ready: true };
}

export const NOT_READY_MESSAGES: Readonly<Record<NotReadyReason, string>> = {
  starting: "the node is learning the ring and does not serve clients yet",
  draining: "the node is shutting down",
  clock_offset: "the node's clock is out of range of its peers' clocks",
};

export interface ReadyRoutesOptions {
  readonly readiness: () => Readiness;
}

const READY_SCHEMA = {
  summary: "The readiness probe: 503 `unavailable` with its `reason` while the node does not serve",
  tags: ["probes"],
  response: answers({ 200: ReadyBody }, "unavailable"),
};

export const readyRoutes: FastifyPluginAsync<ReadyRoutesOptions> = async (app, options) => {
  app.get(READY_PATH, { schema: READY_SCHEMA }, async (_request, reply) => {
    const readiness = options.readiness();
    // A probe's answer is about this moment; no cache may keep it.
    void reply.header("cache-control", "no-store");
    if (readiness.ready) return reply.code(200).send({ status: "ready" });
    return reply
      .code(503)
      .type("application/json; charset=utf-8")
      .send(
        errorBody("unavailable", NOT_READY_MESSAGES[readiness.reason], {
          reason: readiness.reason,
        }),
      );
  });
};
