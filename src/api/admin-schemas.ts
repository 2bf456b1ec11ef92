// api/admin-schemas.ts — TypeBox schemas of the operator's routes (SPEC §3): repair, ring changes
// and stop (future-records-routes.ts keeps its own, beside its limits). fastify validates the
// parameters and JSON bodies against them, and the OpenAPI document (api/openapi.ts) is made from
// them, so the two cannot disagree.
//
// A refusal stays what it was before the schemas: 400 `bad_request` in the SPEC §2 body (a
// validation error reaches api/errors.ts like any other). The node's validator neither coerces
// types nor fills defaults (api/http-server.ts), so a schema only accepts or refuses. A JSON body
// that is not an object carries no fields and was always ignored (the route's defaults apply): the
// body schemas keep that, and other content types are not read for fields at all.

import { Type, type TObject, type TString } from "@sinclair/typebox";
import { NODE_ID_BYTES_MAX } from "../core/limits.js";
import { RingChangeSchema } from "./cluster-schemas.js";

const Count = Type.Integer({ minimum: 0 });

/** A flag as a query string or JSON gives it. */
const FLAG_TEXTS = ["true", "false", "1", "0"] as const;
const FlagText = textOneOf(FLAG_TEXTS, "true or false (1 or 0)");

/** True for the flag texts and JSON values that mean yes. */
export function flagValue(value: boolean | string): boolean {
  return value === true || value === "true" || value === "1";
}

/**
 * One of a few texts. As an enum, not a union of literals: the refusal then reads "must be equal to
 * one of the allowed values" rather than one line per literal.
 */
export function textOneOf(values: readonly string[], description: string): TString {
  return Type.String({ enum: [...values], description });
}

/**
 * A JSON body with optional fields: when it is an object they are checked; anything else (an
 * array, a string, null) carries none and is let through, as it always was.
 */
export function jsonFieldsBody(fields: TObject, description: string) {
  const schema = Type.Unsafe<unknown>({ if: { type: "object" }, then: fields, description });
  return { content: { "application/json": { schema } } };
}

/** A node id in a path: what --id accepts, bounded. */
export const NODE_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${NODE_ID_BYTES_MAX}}$`);

/** One range of the ring, `start:end` in the token text of GET /cluster/ring. */
const RangeText = Type.String({
  pattern: "^[0-9a-f]{16}:[0-9a-f]{16}$",
  description: "one range this node replicates, start:end as GET /cluster/ring names it",
});

export const RepairQuery = Type.Object({
  dryRun: Type.Optional(FlagText),
  dry_run: Type.Optional(FlagText),
  range: Type.Optional(RangeText),
});

export const RepairFields = Type.Object({
  dryRun: Type.Optional(Type.Union([Type.Boolean(), FlagText])),
  range: Type.Optional(RangeText),
});

export const RepairStartBody = jsonFieldsBody(
  RepairFields,
  "`dryRun`: compare and list, move nothing; `range`: repair that range only (the query wins)",
);

export const RepairStarted = Type.Object(
  { id: Type.String({ description: "the job's id, for GET /admin/repair/{id}" }) },
  { description: "The repair has started." },
);

export const RepairJobParams = Type.Object({
  id: Type.String({ description: "a repair's id, as POST /admin/repair gave it" }),
});

export const RepairJobSchema = Type.Object(
  {
    id: Type.String(),
    state: Type.Union([Type.Literal("running"), Type.Literal("done"), Type.Literal("failed")]),
    dryRun: Type.Boolean(),
    range: Type.Union([Type.String(), Type.Null()], {
      description: "the one range repaired, start:end; null: every range the node replicates",
    }),
    progress: Type.Object({
      peers: Count,
      peersDone: Count,
      ranges: Count,
      rangesCompared: Count,
    }),
    summary: Type.Object({
      rangesCompared: Count,
      rangesDiffering: Count,
      keysSent: Count,
      keysReceived: Count,
      bytesSent: Count,
      bytesReceived: Count,
      roundTrips: Count,
      leavesSkipped: Count,
      seconds: Type.Number({ minimum: 0 }),
    }),
    failures: Type.Array(Type.Object({ peer: Type.String(), message: Type.String() })),
  },
  { description: "The repair as it stands: its progress and, once it ended, its summary." },
);

export const RemoveNodeParams = Type.Object({
  id: Type.String({
    pattern: NODE_ID_PATTERN.source,
    description: `the member to remove: 1 to ${NODE_ID_BYTES_MAX} printable characters`,
  }),
});

export const RingChangeStarted = Type.Object(
  { change: RingChangeSchema },
  { description: "The ring change has started." },
);

export const RingChangeAnswer = Type.Object(
  { change: Type.Union([RingChangeSchema, Type.Null()]) },
  { description: "The ring change this node runs or ran last; null when none." },
);

export const StopStarted = Type.Object(
  { node: Type.String(), status: Type.Literal("stopping") },
  { description: "The node stops as on SIGTERM once this answer is sent, and exits 0." },
);
