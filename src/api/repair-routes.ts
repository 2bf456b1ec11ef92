// api/repair-routes.ts — the operator's repair (SPEC §1 `grapevine repair`, §3): `POST
// /admin/repair` starts one (every range this node replicates against every other replica) and
// answers `202 {"id"}` at once; `GET /admin/repair/:id` gives its progress and, once it ended, its
// summary. A dry run (`?dryRun=true`, or a JSON body `{"dryRun": true}`) compares and lists but
// moves nothing; `range=start:end` (or `{"range": …}`) repairs that one range of the ring instead
// of all of them. An unknown id is a 404 with the SPEC §2 error body; a bad flag a 400 (the query
// and the JSON body are checked against admin-schemas.ts's schemas before the route runs).

import type { Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import {
  rangeText,
  type RepairJobView,
  type RepairRequest,
} from "../antientropy/anti-entropy-service.js";
import { GrapevineError } from "../core/errors.js";
import { tokenFromString } from "../ring/partitioner.js";
import {
  flagValue,
  RepairFields,
  RepairJobParams,
  RepairJobSchema,
  RepairQuery,
  RepairStartBody,
  RepairStarted,
} from "./admin-schemas.js";
import { answers } from "./answer-schemas.js";
import { OPTIONAL_BODY } from "./openapi.js";

export interface RepairRoutesApi {
  startRepair(request: RepairRequest): string;
  job(id: string): RepairJobView | undefined;
}

export interface AdminRepairRoutesOptions {
  readonly repair: RepairRoutesApi;
}

/** A range's text, already checked by the schema's pattern: `start:end`. */
function rangeOf(text: string): { start: bigint; end: bigint } {
  const [start = "", end = ""] = text.split(":");
  return { start: tokenFromString(start), end: tokenFromString(end) };
}

/** Job ids are ours (hex), so anything longer is not one (and is not echoed whole). */
const JOB_ID_LENGTH_MAX = 64;

const START_SCHEMA = {
  summary: "Starts a repair of every range this node replicates",
  tags: ["admin"],
  querystring: RepairQuery,
  body: RepairStartBody,
  [OPTIONAL_BODY]: true,
  response: answers({ 202: RepairStarted }, "bad_request", "unavailable"),
};

const JOB_SCHEMA = {
  summary: "A repair's progress and, once it ended, its summary",
  tags: ["admin"],
  params: RepairJobParams,
  response: answers({ 200: RepairJobSchema }, "not_found"),
};

/** What GET /admin/repair/:id answers: the job as it stands. */
export function repairBody(job: RepairJobView): Record<string, unknown> {
  return {
    id: job.id,
    state: job.state,
    dryRun: job.dryRun,
    range: job.range === null ? null : rangeText(job.range),
    progress: {
      peers: job.peersTotal,
      peersDone: job.peersDone,
      ranges: job.rangesTotal,
      rangesCompared: job.summary.rangesCompared,
    },
    summary: {
      rangesCompared: job.summary.rangesCompared,
      rangesDiffering: job.summary.rangesDiffering,
      keysSent: job.summary.keysSent,
      keysReceived: job.summary.keysReceived,
      bytesSent: job.summary.bytesSent,
      bytesReceived: job.summary.bytesReceived,
      roundTrips: job.summary.roundTrips,
      leavesSkipped: job.summary.leavesSkipped,
      seconds: job.seconds,
    },
    failures: job.failures,
  };
}

export const adminRepairRoutes: FastifyPluginAsync<AdminRepairRoutesOptions> = async (
  app,
  options,
) => {
  const { repair } = options;

  app.post("/admin/repair", { schema: START_SCHEMA }, async (request, reply) => {
    // Both checked against START_SCHEMA before this runs.
    const query = request.query as Static<typeof RepairQuery>;
    const body = request.body;
    const fields =
      body !== null && typeof body === "object" && !Buffer.isBuffer(body)
        ? (body as Static<typeof RepairFields>)
        : {};
    const flag = query.dryRun ?? query.dry_run ?? fields.dryRun;
    const range = query.range ?? fields.range;
    // Too many sessions waiting (503) or a range without another replica here (400): startRepair
    // throws itself.
    const id = repair.startRepair({
      dryRun: flag !== undefined && flagValue(flag),
      ...(range === undefined ? {} : { range: rangeOf(range) }),
    });
    return reply.code(202).send({ id });
  });

  app.get("/admin/repair/:id", { schema: JOB_SCHEMA }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const job = id.length <= JOB_ID_LENGTH_MAX ? repair.job(id) : undefined;
    if (job === undefined)
      throw new GrapevineError(
        "not_found",
        `no repair with id ${JSON.stringify(id.slice(0, JOB_ID_LENGTH_MAX))}`,
      );
    return reply.code(200).send(repairBody(job));
  });
};
