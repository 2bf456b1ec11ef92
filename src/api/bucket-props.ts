// api/bucket-props.ts — bucket properties (issue 17 §2): their TypeBox schema, the rules a schema
// cannot say, and what a bucket's requests take from them.
//
// A bucket's stored properties are the ones set on it (PUT /buckets/:bucket/props), kept as JSON
// in the cluster metadata under `bucket/<name>` (cluster/metadata.ts); a property not set takes
// the node's default. A PUT names only the properties it changes (null resets one to its default)
// and the merged whole is checked and stored with a new version, so concurrent PUTs of one bucket
// resolve last-writer-wins on that version, the same on every node.
//
// What applies today: `r`, `w`, `pr` and `pw` are the bucket's defaults for requests that name
// none (pr ≤ r, pw ≤ w; unset pr/pw is the node's: strict, or 0 under --sloppy-quorum), and
// `maxValueBytes` bounds its values (at most the node's --max-value-bytes), and `ttlSeconds` is the
// time to live of a write that sends no X-Grapevine-TTL (api/ttl-header.ts; a changed ttlSeconds
// applies to later writes only). `conflictResolution` is `lww`; `siblings` is refused
// with 422 not_supported until siblings exist. No property moves or rewrites stored data: none
// changes a key's token or its replicas, and a smaller maxValueBytes refuses new large values
// without touching old ones.

import { Type, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GrapevineError } from "../core/errors.js";
import { TTL_LIMITS } from "../storage/expiry.js";
import { REPLICATION_FACTOR_MAX, VALUE_BYTES_MAX } from "../core/limits.js";
import {
  ConsistencyError,
  requiredReplicas,
  type ConsistencyLevel,
} from "../replication/consistency.js";

export const BUCKET_PROPS_LIMITS = {
  /** ttlSeconds at most: ten years, as X-Grapevine-TTL (storage/expiry.ts). */
  ttlSecondsMax: TTL_LIMITS.ttlSecondsMax,
  /** A props body's bytes at most: a few hundred are needed. */
  bodyBytesMax: 4096,
} as const;

/** The metadata namespace of bucket properties: `bucket/<name>`. */
export const BUCKET_NAMESPACE = "bucket";

const NamedLevel = Type.Union([Type.Literal("one"), Type.Literal("quorum"), Type.Literal("all")]);
const Level = Type.Union([
  NamedLevel,
  Type.Integer({ minimum: 1, maximum: REPLICATION_FACTOR_MAX }),
]);
/** pr/pw also take 0: no primary replica required (the sloppy quorum). */
const PrimaryLevel = Type.Union([
  NamedLevel,
  Type.Integer({ minimum: 0, maximum: REPLICATION_FACTOR_MAX }),
]);

function resettable(schema: TSchema, description: string) {
  return Type.Optional(Type.Union([schema, Type.Null()], { description }));
}

/** A PUT's body: the properties to change; null resets one to its default. */
export const BucketPropsPatchSchema = Type.Object(
  {
    conflictResolution: Type.Optional(
      Type.Union([Type.Literal("lww"), Type.Literal("siblings")], {
        description: "lww (last write wins); siblings is not supported yet (422)",
      }),
    ),
    r: resettable(Level, "Default read level of the bucket's requests"),
    w: resettable(Level, "Default write level of the bucket's requests"),
    pr: resettable(PrimaryLevel, "Primary replicas a read needs (stored; ≤ r)"),
    pw: resettable(PrimaryLevel, "Primary replicas a write needs (stored; ≤ w)"),
    ttlSeconds: resettable(
      Type.Integer({ minimum: 1, maximum: BUCKET_PROPS_LIMITS.ttlSecondsMax }),
      "Time to live of a write without X-Grapevine-TTL, in seconds; null: none",
    ),
    maxValueBytes: resettable(
      Type.Integer({ minimum: 1, maximum: VALUE_BYTES_MAX }),
      "Largest value the bucket takes, at most the node's --max-value-bytes",
    ),
  },
  { additionalProperties: false },
);

/** A PUT's body as checked: null resets a property. */
export type BucketPropsPatch = {
  readonly [K in keyof StoredBucketProps]?: StoredBucketProps[K] | "siblings" | null;
};

/** What is stored: the properties set, never null. */
export interface StoredBucketProps {
  readonly conflictResolution?: "lww";
  readonly r?: ConsistencyLevel;
  readonly w?: ConsistencyLevel;
  readonly pr?: ConsistencyLevel;
  readonly pw?: ConsistencyLevel;
  readonly ttlSeconds?: number;
  readonly maxValueBytes?: number;
}

/** The properties in effect: the stored ones over the node's defaults. */
export interface BucketProps {
  readonly conflictResolution: "lww";
  readonly r: ConsistencyLevel;
  readonly w: ConsistencyLevel;
  /** Null: the node's default (strict, each acknowledgement a primary's; 0 if --sloppy-quorum). */
  readonly pr: ConsistencyLevel | null;
  readonly pw: ConsistencyLevel | null;
  readonly ttlSeconds: number | null;
  readonly maxValueBytes: number;
}

/** The node's settings the properties default to and are bounded by. */
export interface BucketDefaults {
  readonly replicationFactor: number;
  readonly readConsistency: ConsistencyLevel;
  readonly writeConsistency: ConsistencyLevel;
  readonly maxValueBytes: number;
}

const patchCheck = TypeCompiler.Compile(BucketPropsPatchSchema);

export function badProps(message: string, details: Record<string, unknown> = {}): GrapevineError {
  return new GrapevineError("bad_props", message, details);
}

/** The patch of a request body, checked against the schema (400 bad_props with the first fault). */
export function patchOf(body: unknown): BucketPropsPatch {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badProps("bucket properties are a JSON object");
  if (!patchCheck.Check(body)) {
    const first = patchCheck.Errors(body).First();
    throw badProps(`bad property ${first?.path ?? ""}: ${first?.message ?? "malformed"}`);
  }
  return body as BucketPropsPatch;
}

/**
 * The stored properties after a patch: merged, then checked against the rules and the node's
 * bounds. Throws 400 bad_props, or 422 not_supported for `siblings`.
 */
export function applyPatch(
  stored: StoredBucketProps,
  patch: BucketPropsPatch,
  defaults: BucketDefaults,
): StoredBucketProps {
  if (patch.conflictResolution === "siblings")
    throw new GrapevineError(
      "not_supported",
      "conflictResolution siblings is not supported yet: only lww is implemented",
    );
  const merged = new Map<string, unknown>(Object.entries(stored));
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) merged.delete(name);
    else merged.set(name, value);
  }
  const next = Object.fromEntries(merged) as StoredBucketProps;
  checkRules(effectiveProps(next, defaults), defaults);
  return next;
}

function replicas(level: ConsistencyLevel, name: string, rf: number): number {
  if (level === 0) return 0;
  try {
    return requiredReplicas(level, rf);
  } catch (error) {
    if (error instanceof ConsistencyError)
      throw badProps(`${name}: ${error.message}`, { property: name });
    throw error;
  }
}

function checkRules(props: BucketProps, defaults: BucketDefaults): void {
  const rf = defaults.replicationFactor;
  const r = replicas(props.r, "r", rf);
  const w = replicas(props.w, "w", rf);
  if (props.pr !== null && replicas(props.pr, "pr", rf) > r)
    throw badProps(`pr (${props.pr}) needs more replicas than r (${props.r})`);
  if (props.pw !== null && replicas(props.pw, "pw", rf) > w)
    throw badProps(`pw (${props.pw}) needs more replicas than w (${props.w})`);
  if (props.maxValueBytes > defaults.maxValueBytes)
    throw badProps(`maxValueBytes is at most the node's ${defaults.maxValueBytes}`, {
      bytesMax: defaults.maxValueBytes,
    });
}

export function effectiveProps(stored: StoredBucketProps, defaults: BucketDefaults): BucketProps {
  return {
    conflictResolution: "lww",
    r: stored.r ?? defaults.readConsistency,
    w: stored.w ?? defaults.writeConsistency,
    pr: stored.pr ?? null,
    pw: stored.pw ?? null,
    ttlSeconds: stored.ttlSeconds ?? null,
    // A node configured below the bucket's bound keeps its own.
    maxValueBytes: Math.min(stored.maxValueBytes ?? defaults.maxValueBytes, defaults.maxValueBytes),
  };
}

/**
 * Stored properties read back from metadata text. Text a peer sent that this node cannot read (a
 * newer node's property, say) gives the properties it can, never an error: reads must go on.
 */
export function storedPropsOf(text: string): StoredBucketProps {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    return {};
  }
  if (typeof parsed !== "object" || parsed === null) return {};
  const known: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const one = { [name]: value };
    if (
      value !== null &&
      patchCheck.Check(one) &&
      !(name === "conflictResolution" && value !== "lww")
    )
      known[name] = value;
  }
  return known;
}
