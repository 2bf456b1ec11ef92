// api/kv-schemas.ts — the client API's routes (SPEC §2) as TypeBox schemas: the key, `?w=`/`?r=`,
// the value and every answer with its status, for fastify and for the OpenAPI document.
//
// What fastify checks with them is only the shape of the parameters (a level given twice is an
// array, not a string). The rest stays with api/kv-routes.ts, which has the request line and the
// node's settings: the key is read from the raw, percent-encoded path and measured in UTF-8 bytes,
// which a schema of the router's decoded parameter cannot say, and a level's count is bounded by
// the replication factor, which is the node's. A refusal keeps its code: kvParameterError turns a
// refused level into 400 `bad_consistency`, as the route itself would.

import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifySchemaValidationError } from "fastify";
import { GrapevineError, type ErrorCode } from "../core/errors.js";
import { BUCKET_KEY_LIMITS } from "../storage/bucket-keys.js";
import { answers, errorResponses } from "./answer-schemas.js";
import { DOCUMENTED_BODY, OPTIONAL_BODY, type DocumentedBody } from "./openapi.js";
import { TTL_HEADER } from "./ttl-header.js";

export const TIMESTAMP_HEADER = "x-grapevine-timestamp";

/** The message of a level that is not one text (given twice, say). */
export const LEVEL_GIVEN_TWICE = "give the consistency level once, as one, quorum, all or a count";

const KeyParams = Type.Object({
  "*": Type.String({
    description:
      `The key: 1 to ${BUCKET_KEY_LIMITS.userKeyBytesMax} bytes of UTF-8, percent-encoded (a '/' in it ` +
      "as %2F; characters outside visible ASCII encoded), read from the path as sent.",
  }),
});

function levelQuery(name: "w" | "r", acknowledged: string) {
  const primary = name === "w" ? "pw" : "pr";
  return Type.Object({
    [name]: Type.Optional(
      Type.String({
        description:
          `How many replicas must ${acknowledged}: one, quorum, all or a count from 1 to the ` +
          "replication factor (case and surrounding spaces ignored); the node's default when absent.",
        examples: ["quorum"],
      }),
    ),
    [primary]: Type.Optional(
      Type.String({
        description:
          `Sloppy quorum: how many of the \`${name}\` must be the key's primary replicas, not ` +
          `fallbacks standing in for down ones: 0 or a level as for \`${name}\`, at most \`${name}\`. ` +
          `Absent: \`${name}\` itself (strict), or 0 on a node started with --sloppy-quorum on.`,
        examples: ["0"],
      }),
    ),
  });
}

const Timestamp = Type.String({
  pattern: "^[0-9]+$",
  description: "The version's timestamp: hybrid logical clock, microseconds.",
});

/** A 204: no body, the written version's timestamp. */
function written(description: string): TSchema {
  return Type.Null({ description, headers: { [TIMESTAMP_HEADER]: Timestamp } });
}

/** Any type and any bytes; the value's Content-Type is stored and given back. */
const ANY_BYTES = { "*/*": { schema: Type.String({ format: "binary" }) } };

/** PUT's body, which fastify keeps as raw bytes (kv-routes.ts) and so must not check. */
const VALUE_BODY: DocumentedBody = {
  description: "The value: any bytes up to --max-value-bytes, of any Content-Type",
  content: ANY_BYTES,
};

/** PUT's one header of its own: the time to live. */
const PutHeaders = Type.Object({
  [TTL_HEADER]: Type.Optional(
    Type.String({
      description:
        "Time to live in whole seconds, 0 to ten years: the value reads as not found that long " +
        "after the write. 0: never expires. Absent: the bucket's ttlSeconds, else never.",
      examples: ["3600"],
    }),
  ),
});

/** A refused parameter, with the code the route gives the same mistake. */
export function kvParameterError(
  errors: FastifySchemaValidationError[],
  part: string,
): GrapevineError {
  if (part === "headers") return new GrapevineError("bad_ttl", "give X-Grapevine-TTL once");
  if (part === "querystring") return new GrapevineError("bad_consistency", LEVEL_GIVEN_TWICE);
  return new GrapevineError("bad_key", errors.map((error) => error.message).join("; "));
}

export const PUT_SCHEMA = {
  summary: "Stores the body as the key's value",
  tags: ["kv"],
  params: KeyParams,
  querystring: levelQuery("w", "acknowledge the write"),
  headers: PutHeaders,
  [DOCUMENTED_BODY]: VALUE_BODY,
  // No body is an empty value.
  [OPTIONAL_BODY]: true,
  response: answers(
    { 204: written("Stored on at least `w` replicas") },
    "bad_key",
    "bad_consistency",
    "bad_ttl",
    "bad_request",
    "value_too_large",
    "unavailable",
    "timeout",
  ),
};

export const GET_SCHEMA = {
  summary: "The newest value among `r` replicas",
  tags: ["kv"],
  params: KeyParams,
  querystring: levelQuery("r", "answer"),
  response: answers(
    {
      200: {
        description: "The value, with the Content-Type it was stored with",
        content: ANY_BYTES,
        headers: {
          [TIMESTAMP_HEADER]: Timestamp,
          [TTL_HEADER]: Type.String({
            pattern: "^[0-9]+$",
            description: "Seconds the value has left, rounded up: only on a value with a TTL",
          }),
        },
      },
    },
    "bad_key",
    "bad_consistency",
    "not_found",
    "unavailable",
    "timeout",
  ),
};

export const DELETE_SCHEMA = {
  summary: "Deletes the key: a tombstone stored on `w` replicas",
  tags: ["kv"],
  params: KeyParams,
  querystring: levelQuery("w", "acknowledge the tombstone"),
  response: answers(
    { 204: written("A tombstone stored on at least `w` replicas") },
    "bad_key",
    "bad_consistency",
    "unavailable",
    "timeout",
  ),
};

export const KV_SCHEMAS = { put: PUT_SCHEMA, get: GET_SCHEMA, delete: DELETE_SCHEMA } as const;

const BucketKeyParams = Type.Object({
  bucket: Type.String({
    description: "The bucket: 1 to 64 letters, digits, '_', '.' or '-'; `default` is /kv's",
  }),
  "*": KeyParams.properties["*"],
});

/** The same routes in a bucket: `/buckets/:bucket/keys/*`, refusing a bad name with bad_bucket. */
function inBucket<S extends { readonly summary: string; readonly response: object }>(
  schema: S,
  badRequests: readonly ErrorCode[],
): S {
  return {
    ...schema,
    summary: `${schema.summary}, in a bucket`,
    tags: ["buckets"],
    params: BucketKeyParams,
    response: { ...schema.response, ...errorResponses("bad_bucket", ...badRequests) },
  };
}

export const BUCKET_KEY_SCHEMAS = {
  put: inBucket(PUT_SCHEMA, ["bad_key", "bad_consistency", "bad_ttl", "bad_request"]),
  get: inBucket(GET_SCHEMA, ["bad_key", "bad_consistency"]),
  delete: inBucket(DELETE_SCHEMA, ["bad_key", "bad_consistency"]),
} as const;
