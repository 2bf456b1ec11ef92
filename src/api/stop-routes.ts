// api/stop-routes.ts — `POST /admin/stop` (issue 21 §3), what `grapevine stop` calls: the node
// stops as on SIGTERM (node/shutdown.ts: draining, the shutdown announced to its peers, in-flight
// requests finished, the store closed) and its process exits 0. The answer, 202, goes out before
// the drain begins; a node already stopping refuses the request like any other (503 `draining`),
// which the command takes as the stop under way.

import type { FastifyPluginAsync } from "fastify";
import type { NodeId } from "../core/ids.js";
import { StopStarted } from "./admin-schemas.js";
import { answers } from "./answer-schemas.js";

export const STOP_PATH = "/admin/stop";

export interface StopRoutesOptions {
  readonly nodeId: NodeId;
  /** Asks the process to stop cleanly; called once the answer is sent. */
  readonly requestStop: () => void;
}

const STOP_SCHEMA = {
  summary: "Stops the node cleanly, as SIGTERM does",
  tags: ["admin"],
  response: answers({ 202: StopStarted }),
};

export const stopRoutes: FastifyPluginAsync<StopRoutesOptions> = async (app, options) => {
  app.post(STOP_PATH, { schema: STOP_SCHEMA }, async (_request, reply) => {
    // After the answer is written: the stop closes the server, and this request must not be the one
    // it waits for.
    reply.raw.once("finish", () => options.requestStop());
    return reply.code(202).send({ node: options.nodeId, status: "stopping" });
  });
};
