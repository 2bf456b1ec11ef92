// api/bucket-props-errors.ts — what a refused props body is told. The schema validator reports
// every branch of a union it tried ("must be string; must be equal to constant; …"), which names
// neither the property nor what it takes; this turns its first fault into one sentence that does.

import { REPLICATION_FACTOR_MAX, VALUE_BYTES_MAX } from "../core/limits.js";
import { BUCKET_PROPS_LIMITS } from "./bucket-props.js";

/** One fault of the schema validator, as fastify hands it to a schemaErrorFormatter. */
export interface SchemaFault {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message?: string | undefined;
}

const LEVELS = "one, quorum, all";

/** What each property takes, for the message. */
const ACCEPTS: Readonly<Record<string, string>> = {
  conflictResolution: "lww or siblings",
  r: `${LEVELS} or an integer from 1 to ${REPLICATION_FACTOR_MAX}; null resets it`,
  w: `${LEVELS} or an integer from 1 to ${REPLICATION_FACTOR_MAX}; null resets it`,
  pr: `${LEVELS} or an integer from 0 to ${REPLICATION_FACTOR_MAX}; null resets it`,
  pw: `${LEVELS} or an integer from 0 to ${REPLICATION_FACTOR_MAX}; null resets it`,
  ttlSeconds: `whole seconds from 1 to ${BUCKET_PROPS_LIMITS.ttlSecondsMax}; null: no TTL`,
  maxValueBytes: `bytes from 1 to ${VALUE_BYTES_MAX}; null resets it`,
};

/** The properties a body may set, in the order the messages list them. */
export const BUCKET_PROPERTY_NAMES: readonly string[] = Object.keys(ACCEPTS);

/** One sentence for the first fault: the property, and what it takes. */
export function propsFaultMessage(faults: readonly SchemaFault[]): string {
  const unknown = faults.find((fault) => fault.keyword === "additionalProperties");
  if (unknown !== undefined) {
    const named = unknown.params["additionalProperty"];
    const name = typeof named === "string" ? named : "?";
    return `unknown bucket property '${name.slice(0, 64)}' (known: ${BUCKET_PROPERTY_NAMES.join(", ")})`;
  }
  const first = faults[0];
  const property = first?.instancePath.split("/")[1];
  if (property === undefined || property === "")
    return "bucket properties are a JSON object (send Content-Type: application/json)";
  const accepts = ACCEPTS[property];
  return accepts === undefined
    ? `bad bucket property ${property}: ${first?.message ?? "malformed"}`
    : `bad bucket property ${property}: it takes ${accepts}`;
}
