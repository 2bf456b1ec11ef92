// api/cluster-routes.ts — what an operator sees of the cluster (SPEC §3): `/health`,
// `/cluster/status` (this node's view of every member), `/cluster/ring` (tokens in ring order
// with their owners, and each range's replicas) and `/cluster/replicas?key=` (a key's token and
// replicas, which the web console highlights on its ring). Read-only; everything comes from the
// engine.
// `/cluster/status` also carries, beyond the SPEC's fields (which it allows), `streams`: the range
// streams of ring changes on this node with their progress (topology/stream.ts), and `change`: the
// ring change this node runs or ran last, and `clock`: whether this node's clock is in range of its
// peers (issue 14 §2: a node out of range refuses writes) with each measured peer's offset.

import type { Static } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type { MemberStatus, NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { GrapevineError } from "../core/errors.js";
import { tokenOf, tokenToString } from "../ring/partitioner.js";
import { replicatedRanges, replicasFor } from "../ring/placement.js";
import { bucketNameProblem, DEFAULT_BUCKET, storedKeyOf } from "../storage/bucket-keys.js";
import type { StreamProgress } from "../topology/stream.js";
import type { LocalChange } from "../topology/topology-service.js";
import { ringChangeBody, type RingChangeBody } from "./topology-routes.js";
import type { ClockVerdict } from "../time/clock-offset.js";
import { answers } from "./answer-schemas.js";
import {
  ClusterStatusSchema,
  HealthBody,
  KeyReplicasQuery,
  KeyReplicasSchema,
  RingSchema,
} from "./cluster-schemas.js";
import { KV_LIMITS } from "./kv-routes.js";

export interface ClusterRoutesOptions {
  readonly nodeId: NodeId;
  readonly replicationFactor: number;
  readonly engine: Pick<ClusterEngine, "members" | "ring">;
  readonly nowMs: () => number;
  /** Ring changes on this node (absent when the engine does not support them). */
  readonly topology?: { progress(): StreamProgress[]; change(): LocalChange | null };
  /** Whether this node coordinates client requests yet (absent: always). */
  readonly serving?: () => boolean;
  /** The clock verdict (node/clock-guard.ts); absent: no `clock` field. */
  readonly clock?: () => ClockVerdict;
  /** The fallback copies this node holds for down primaries (sloppy quorum); absent: no field. */
  readonly fallbacks?: () => FallbacksStatusBody;
  /** The cluster metadata's digest here and as last heard from each peer; absent: no field. */
  readonly metadata?: () => MetadataStatusBody;
}

/** `/cluster/status`'s `fallbacks`: what this node holds for down primaries (issue 16 §4). */
export interface FallbacksStatusBody {
  readonly copies: number;
  readonly bytes: number;
  readonly bytesMax: number;
}

/** `/cluster/status`'s `metadata`: whether this node's bucket properties agree with its peers'. */
export interface MetadataStatusBody {
  readonly digest: string;
  readonly peers: Readonly<Record<string, string>>;
  /** False when some peer's last heard digest differs from this node's. */
  readonly agree: boolean;
}

/** `/cluster/status`'s `clock`: in range or fenced, and the offsets behind the verdict. */
export interface ClockStatusBody {
  /** False while this node refuses to coordinate writes (503 unavailable, reason clock_offset). */
  readonly inRange: boolean;
  readonly maxOffsetMs: number;
  /** Peers measured recently, and how many of them are out of range. */
  readonly measured: number;
  readonly outOfRange: number;
  /** Each peer's clock minus ours (ms), within ± errorMs. */
  readonly peers: readonly {
    readonly id: NodeId;
    readonly offsetMs: number;
    readonly errorMs: number;
    readonly outOfRange: boolean;
  }[];
}

function clockStatusBody(verdict: ClockVerdict): ClockStatusBody {
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return {
    inRange: verdict.inRange,
    maxOffsetMs: verdict.maxOffsetMs,
    measured: verdict.measured,
    outOfRange: verdict.outOfRange,
    peers: verdict.peers.map((peer) => ({
      id: peer.peer,
      offsetMs: round(peer.offsetMs),
      errorMs: round(peer.errorMs),
      outOfRange: peer.outOfRange,
    })),
  };
}

/** One row of `/cluster/status` (SPEC §3). */
export interface MemberStatusBody {
  readonly id: NodeId;
  readonly address: string;
  readonly state: MemberStatus;
  readonly live: boolean;
  readonly phi: number | null;
  readonly generation: number;
  readonly heartbeat: number;
  readonly tokens: number;
  readonly ownership: number;
  readonly keys: number | null;
  readonly bytes: number | null;
  /** Present (true) when the member announced a clean stop (issue 21 §3): down, tokens kept. */
  readonly shutdown?: true;
}

export interface ClusterStatusBody {
  readonly node: NodeId;
  readonly members: readonly MemberStatusBody[];
  /**
   * False while this node, just started, refuses client requests until it has learned the ring
   * (cluster/ring-settle.ts).
   */
  readonly serving?: boolean;
  /** Range streams on this node, running and recently finished. */
  readonly streams?: readonly StreamProgress[];
  readonly change?: RingChangeBody | null;
  readonly clock?: ClockStatusBody;
  readonly fallbacks?: FallbacksStatusBody;
  readonly metadata?: MetadataStatusBody;
}

export interface RingBody {
  readonly node: NodeId;
  readonly replicationFactor: number;
  /** Every token of a normal member, ascending, as 16 hex digits. */
  readonly tokens: readonly { readonly token: string; readonly owner: NodeId }[];
  /**
   * Each range (start, end] with the member owning `end` and the replicas of the range, primary
   * first.
   */
  readonly ranges: readonly {
    readonly start: string;
    readonly end: string;
    readonly owner: NodeId;
    readonly replicas: readonly NodeId[];
  }[];
}

/**
 * Phi is shown to three decimals; an infinite phi (a long-silent member) as a large finite number.
 */
function roundPhi(phi: number | null): number | null {
  if (phi === null || Number.isNaN(phi)) return null;
  if (!Number.isFinite(phi)) return Number.MAX_SAFE_INTEGER;
  return Math.round(phi * 1000) / 1000;
}

/**
 * `/cluster/status`'s body: this node's view of every member (SPEC §3); the simulator serves it
 * too.
 */
export function clusterStatusBody(options: ClusterRoutesOptions): ClusterStatusBody {
  const { engine, nodeId } = options;
  const members = engine.members(options.nowMs()).map((member): MemberStatusBody => ({
    id: member.id,
    address: member.address,
    state: member.status,
    live: member.live,
    phi: roundPhi(member.phi),
    generation: member.generation,
    heartbeat: member.heartbeat,
    tokens: member.tokens,
    ownership: member.ownership,
    keys: member.keys,
    bytes: member.bytes,
    ...(member.shutdown === true ? { shutdown: true as const } : {}),
  }));
  const topology = options.topology;
  const serving = options.serving?.() ?? true;
  const clock = {
    ...(options.clock === undefined ? {} : { clock: clockStatusBody(options.clock()) }),
    ...(options.fallbacks === undefined ? {} : { fallbacks: options.fallbacks() }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata() }),
  };
  if (topology === undefined) return { node: nodeId, members, serving, ...clock };
  const change = topology.change();
  return {
    node: nodeId,
    members,
    serving,
    streams: topology.progress(),
    change: change === null ? null : ringChangeBody(change),
    ...clock,
  };
}

const HEALTH_SCHEMA = {
  summary: "The liveness probe: 200 while the process serves",
  tags: ["probes"],
  response: answers({ 200: HealthBody }),
};

const STATUS_SCHEMA = {
  summary: "This node's view of every member",
  tags: ["cluster"],
  response: answers({ 200: ClusterStatusSchema }),
};

const RING_SCHEMA = {
  summary: "Tokens in ring order with their owners, and each range's replicas",
  tags: ["cluster"],
  response: answers({ 200: RingSchema }),
};

const REPLICAS_SCHEMA = {
  summary: "A key's token and its replicas, primary first",
  tags: ["cluster"],
  querystring: KeyReplicasQuery,
  response: answers({ 200: KeyReplicasSchema }, "bad_request", "bad_bucket"),
};

export interface KeyReplicasBody {
  readonly bucket: string;
  readonly key: string;
  readonly token: string;
  readonly replicas: readonly NodeId[];
}

/** `/cluster/replicas`'s body: where the coordinator of this node would send the key. */
export function keyReplicasBody(
  options: ClusterRoutesOptions,
  key: string,
  bucket: string = DEFAULT_BUCKET,
): KeyReplicasBody {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > KV_LIMITS.keyBytesMax)
    throw new GrapevineError(
      "bad_request",
      `the key must be 1 to ${KV_LIMITS.keyBytesMax} bytes of UTF-8, got ${bytes}`,
    );
  const problem = bucketNameProblem(bucket);
  if (problem !== null) throw new GrapevineError("bad_bucket", problem);
  // A bucket's key lives where its stored form hashes (storage/bucket-keys.ts).
  const token = tokenOf(storedKeyOf(bucket, key));
  return {
    bucket,
    key,
    token: tokenToString(token),
    replicas: replicasFor(options.engine.ring(), token, options.replicationFactor),
  };
}

export const clusterRoutes: FastifyPluginAsync<ClusterRoutesOptions> = async (app, options) => {
  const { engine, nodeId } = options;

  app.get("/health", { schema: HEALTH_SCHEMA }, async () => ({ status: "ok" }));

  app.get("/cluster/status", { schema: STATUS_SCHEMA }, async (): Promise<ClusterStatusBody> =>
    clusterStatusBody(options),
  );

  app.get("/cluster/replicas", { schema: REPLICAS_SCHEMA }, async (request) => {
    // The query's shape is checked against REPLICAS_SCHEMA before this runs.
    const { key, bucket } = request.query as Static<typeof KeyReplicasQuery>;
    return keyReplicasBody(options, key, bucket);
  });

  app.get("/cluster/ring", { schema: RING_SCHEMA }, async (): Promise<RingBody> => {
    const ring = engine.ring();
    const ranges = ring.ranges();
    const replicated = replicatedRanges(ring, options.replicationFactor);
    return {
      node: nodeId,
      replicationFactor: options.replicationFactor,
      tokens: ranges.map((range) => ({ token: tokenToString(range.end), owner: range.owner })),
      ranges: replicated.map((range) => ({
        start: tokenToString(range.start),
        end: tokenToString(range.end),
        owner: range.replicas[0] ?? "",
        replicas: [...range.replicas],
      })),
    };
  });
};
