// api/cluster-schemas.ts — TypeBox schemas of what an operator reads (SPEC §3): /health, /ready,
// /cluster/status, /cluster/ring, /cluster/replicas and the ring change of /admin/ring-change, for
// the routes' `response` maps and so the OpenAPI document (api/openapi.ts). Each mirrors the body
// type its route builds (cluster-routes.ts, ready-routes.ts, topology-routes.ts); the OpenAPI test
// checks a node's answers against them.

import { Type } from "@sinclair/typebox";
import { MEMBER_STATUSES } from "../core/ids.js";

function literals<T extends string>(values: readonly T[]) {
  return Type.Union(values.map((value) => Type.Literal(value)));
}

const Count = Type.Integer({ minimum: 0 });
/** A token as the ring shows it: 16 hex digits. */
const TokenText = Type.String({ pattern: "^[0-9a-f]{16}$", description: "a token, 16 hex digits" });
const NodeIdText = Type.String({ minLength: 1, description: "a member's id" });

export const HealthBody = Type.Object(
  { status: Type.Literal("ok") },
  { description: "The process is up and answers (the liveness probe)." },
);

export const ReadyBody = Type.Object(
  { status: Type.Literal("ready") },
  { description: "The node serves clients (the readiness probe)." },
);

export const RingChangeSchema = Type.Object(
  {
    kind: literals(["bootstrap", "decommission", "removenode"]),
    id: NodeIdText,
    state: literals(["running", "done", "failed"]),
    error: Type.Union([Type.String(), Type.Null()]),
    keys: Count,
    bytes: Count,
    seconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
      description: "how long it took, once finished",
    }),
  },
  { description: "A ring change this node runs or ran." },
);

const MemberStatusSchema = Type.Object({
  id: NodeIdText,
  address: Type.String(),
  state: literals(MEMBER_STATUSES),
  live: Type.Boolean(),
  phi: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  generation: Type.Integer(),
  heartbeat: Type.Integer(),
  tokens: Count,
  ownership: Type.Number({ minimum: 0, maximum: 1 }),
  keys: Type.Union([Count, Type.Null()]),
  bytes: Type.Union([Count, Type.Null()]),
  shutdown: Type.Optional(
    Type.Literal(true, { description: "the member announced a clean stop: down, tokens kept" }),
  ),
});

const StreamProgressSchema = Type.Object({
  id: Count,
  change: Type.String(),
  start: TokenText,
  end: TokenText,
  source: Type.Union([NodeIdText, Type.Null()]),
  target: NodeIdText,
  state: literals(["queued", "streaming", "retrying", "done", "failed"]),
  keys: Count,
  bytes: Count,
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  attempts: Count,
  sourceChanges: Count,
  error: Type.Union([Type.String(), Type.Null()]),
});

const ClockStatusSchema = Type.Object({
  inRange: Type.Boolean({ description: "false while this node refuses to coordinate writes" }),
  maxOffsetMs: Type.Number(),
  measured: Count,
  outOfRange: Count,
  peers: Type.Array(
    Type.Object({
      id: NodeIdText,
      offsetMs: Type.Number(),
      errorMs: Type.Number(),
      outOfRange: Type.Boolean(),
    }),
  ),
});

export const ClusterStatusSchema = Type.Object(
  {
    node: NodeIdText,
    members: Type.Array(MemberStatusSchema),
    serving: Type.Optional(
      Type.Boolean({ description: "false while the node, just started, learns the ring" }),
    ),
    streams: Type.Optional(Type.Array(StreamProgressSchema)),
    change: Type.Optional(Type.Union([RingChangeSchema, Type.Null()])),
    clock: Type.Optional(ClockStatusSchema),
    fallbacks: Type.Optional(
      Type.Object(
        {
          copies: Type.Integer({ minimum: 0 }),
          bytes: Type.Integer({ minimum: 0 }),
          bytesMax: Type.Integer({ minimum: 0 }),
        },
        { description: "Writes this node holds as a fallback for down replicas (sloppy quorum)" },
      ),
    ),
    metadata: Type.Optional(
      Type.Object(
        {
          digest: Type.String(),
          peers: Type.Record(Type.String(), Type.String()),
          agree: Type.Boolean(),
        },
        { description: "bucket properties' digest here and last heard from each peer" },
      ),
    ),
  },
  { description: "This node's view of every member." },
);

export const KeyReplicasQuery = Type.Object({
  key: Type.String({ minLength: 1, description: "the key, as a client names it (not encoded)" }),
  bucket: Type.Optional(
    Type.String({ description: "the key's bucket (default: `default`, the bucket of /kv)" }),
  ),
});

export const KeyReplicasSchema = Type.Object(
  {
    bucket: Type.String(),
    key: Type.String(),
    token: TokenText,
    replicas: Type.Array(NodeIdText, { description: "primary first" }),
  },
  { description: "Where a key lives: its token and its replicas in this node's ring." },
);

export const RingSchema = Type.Object(
  {
    node: NodeIdText,
    replicationFactor: Type.Integer({ minimum: 1 }),
    tokens: Type.Array(Type.Object({ token: TokenText, owner: NodeIdText }), {
      description: "every token of a normal member, ascending",
    }),
    ranges: Type.Array(
      Type.Object({
        start: TokenText,
        end: TokenText,
        owner: Type.String({ description: "the member owning `end`" }),
        replicas: Type.Array(NodeIdText, { description: "primary first" }),
      }),
      { description: "each range (start, end] with its replicas" },
    ),
  },
  { description: "Tokens in ring order with their owners, and each range's replicas." },
);
