// net/repair-routes.ts — the route through which a node answers another replica's repair session
// (`POST /internal/v1/repair`, net/repair-protocol.ts), as a route group (net/node-route.ts) that
// fastify mounts (repairRoutes) and the simulator serves without it (net/internal-routes.ts).
//
// Every body is distrusted until checked (ARCHITECTURE §6.5): the cluster secret, content type and
// size (route-guard.ts), msgpack, the schema, and then what the schema cannot see: tree nodes that
// exist in the named range's tree, leaf spans inside it, keys of well-formed UTF-8 and at most 1024
// bytes, records that decode. A malformed request is answered 400 `bad_request` and counted; the
// store never sees it. Trees are built from the segment table (hash-tree.ts) and kept only while no
// write changed it (range-trees.ts TreeCache). The only session state is the range list of each
// session's last roots question (bounded, oldest forgotten first), so a session that stops half-way
// costs the replica a few bytes until it is pushed out.
//
// Pushed records go to the store in one apply(): last write wins against what is stored, so a push
// never rolls back a newer version. Their timestamps are merged into the hybrid logical clock as
// the replica route does (replica-routes.ts).

import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { GrapevineError } from "../core/errors.js";
import type { RangeHashTree, TreeNode } from "../antientropy/hash-tree.js";
import {
  leafBucketHashesMany,
  leafCountOf,
  listEntriesMany,
  TreeCache,
  type EntriesQuestion,
} from "../antientropy/range-trees.js";
import { descendants } from "../antientropy/tree-diff.js";
import { LEAF_BUCKET_BITS_MAX } from "../antientropy/range-trees.js";
import { decodeRecord, encodeRecord, type KeyedRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import { encodePeerBody } from "./codec.js";
import {
  decodeNodeBody,
  msgpackAnswer,
  requireBody,
  type NodeRoute,
  type NodeRouteGroup,
} from "./node-route.js";
import { isValidReplicaKey } from "./replica-protocol.js";
import {
  firstRepairViolation,
  REPAIR_HASH_BYTES,
  REPAIR_NODE_HASH_BYTES,
  REPAIR_PATH,
  REPAIR_PROTOCOL_LIMITS,
  REPAIR_REQUEST_BYTES_MAX,
  repairRequestCheck,
  type BucketsRequest,
  type EntriesRequest,
  type ExchangeRequest,
  type NodesRequest,
  type RootsRequest,
} from "./repair-protocol.js";
import { mountNodeRoutes } from "./route-guard.js";

export interface RepairRoutesDeps {
  readonly store: Pick<Store, "segments" | "scanHashed" | "get" | "apply">;
  /**
   * Merges a received record's timestamp into the node's hybrid logical clock; false when refused.
   */
  observeTimestamp(timestampUs: number): boolean;
}

/**
 * Pulled keys read from the store at once while answering an exchange (bounds a group's records in
 * memory).
 */
const EXCHANGE_READS_PER_GROUP = 128;

/**
 * The ranges of each session's last roots question, so later questions can name a range by index.
 */
export const REPAIR_ROUTE_LIMITS = {
  /** Sessions remembered at once; the oldest is forgotten first (its next question is refused). */
  sessionsMax: 256,
} as const;

interface RememberedSession {
  readonly ranges: { start: bigint; end: bigint }[];
  /** The node hash window the session compares. */
  readonly window: number;
}

class SessionRanges {
  private readonly sessions = new Map<string, RememberedSession>();

  remember(from: string, session: string, remembered: RememberedSession): void {
    const key = `${from}\u0000${session}`;
    this.sessions.delete(key);
    this.sessions.set(key, remembered);
    while (this.sessions.size > REPAIR_ROUTE_LIMITS.sessionsMax) {
      const [oldest] = this.sessions.keys();
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
  }

  session(from: string, session: string): RememberedSession {
    const remembered = this.sessions.get(`${from}\u0000${session}`);
    if (remembered === undefined)
      throw new GrapevineError(
        "bad_request",
        `unknown repair session ${JSON.stringify(session)}: ask for roots first`,
      );
    return remembered;
  }

  range(from: string, session: string, index: number): { start: bigint; end: bigint } {
    const range = this.session(from, session).ranges[index];
    if (range === undefined)
      throw new GrapevineError("bad_request", `the session has no range ${index}`);
    return range;
  }
}

export interface RepairRoutesOptions {
  readonly clusterSecret: string | null;
  readonly deps: RepairRoutesDeps;
  readonly stats: RepairRouteStats;
  readonly bodyBytesMax?: number;
}

/** Counters of the route, read by the metrics on scrape. */
export class RepairRouteStats {
  requests = 0;
  bytesReceived = 0;
  bytesSent = 0;
  /** Records other replicas pushed here, and records this node sent back on a pull. */
  recordsReceived = 0;
  recordsSent = 0;
  refusedMalformed = 0;
  refusedUnauthorized = 0;
}

type RepairRequest =
  RootsRequest | NodesRequest | BucketsRequest | EntriesRequest | ExchangeRequest;

function rangeOf(wire: readonly [bigint, bigint]): { start: bigint; end: bigint } {
  return { start: wire[0], end: wire[1] };
}

async function answerRoots(
  deps: RepairRoutesDeps,
  trees: TreeCache,
  sessions: SessionRanges,
  request: RootsRequest,
): Promise<unknown> {
  const ranges = request.ranges.map((wire) => rangeOf(wire));
  const offset = request.window * REPAIR_NODE_HASH_BYTES;
  const hashes = Buffer.alloc(REPAIR_NODE_HASH_BYTES * ranges.length);
  for (let index = 0; index < ranges.length; index++) {
    const tree = await trees.get(deps.store, ranges[index] as { start: bigint; end: bigint });
    tree
      .root()
      .copy(hashes, index * REPAIR_NODE_HASH_BYTES, offset, offset + REPAIR_NODE_HASH_BYTES);
  }
  sessions.remember(request.from, request.session, { ranges, window: request.window });
  return { hashes };
}

async function answerNodes(
  deps: RepairRoutesDeps,
  trees: TreeCache,
  sessions: SessionRanges,
  request: NodesRequest,
): Promise<unknown> {
  const named = request.asks.reduce((sum, ask) => sum + (ask.length - 2) / 2, 0);
  if (named > REPAIR_PROTOCOL_LIMITS.nodesPerRequestMax)
    throw new GrapevineError("bad_request", "too many tree nodes named");
  const replies: Buffer[] = [];
  for (const ask of request.asks) {
    const [rangeIndex, levels] = ask as [number, number];
    if (ask.length % 2 !== 0)
      throw new GrapevineError("bad_request", "nodes are depth, index pairs");
    if (levels < 1 || levels > REPAIR_PROTOCOL_LIMITS.levelsPerAskMax) {
      throw new GrapevineError(
        "bad_request",
        `levels must be 1 to ${REPAIR_PROTOCOL_LIMITS.levelsPerAskMax}`,
      );
    }
    const tree: RangeHashTree = await trees.get(
      deps.store,
      sessions.range(request.from, request.session, rangeIndex),
    );
    const asked: TreeNode[] = [];
    for (let i = 2; i < ask.length; i += 2) {
      const node = { depth: ask[i] as number, index: ask[i + 1] as number };
      if (!tree.has(node) || node.depth >= tree.height) {
        throw new GrapevineError(
          "bad_request",
          `no inner node (${node.depth}, ${node.index}) in the range's tree`,
        );
      }
      asked.push(...descendants(tree, node, levels));
    }
    const offset = sessions.session(request.from, request.session).window * REPAIR_NODE_HASH_BYTES;
    const hashes = Buffer.alloc(REPAIR_NODE_HASH_BYTES * asked.length);
    asked.forEach((node, index) =>
      tree
        .hashOf(node)
        .copy(hashes, index * REPAIR_NODE_HASH_BYTES, offset, offset + REPAIR_NODE_HASH_BYTES),
    );
    replies.push(hashes);
  }
  return { hashes: replies };
}

async function answerEntries(
  deps: RepairRoutesDeps,
  sessions: SessionRanges,
  request: EntriesRequest,
): Promise<unknown> {
  // Every ask is checked first, then all are listed in one batch of scans (range-trees.ts
  // scanPieces).
  const questions: EntriesQuestion[] = [];
  for (const ask of request.asks) {
    const [rangeIndex, first, end, bits, bucket] = ask as [
      number,
      number,
      number,
      number | undefined,
      number | undefined,
    ];
    const range = sessions.range(request.from, request.session, rangeIndex);
    const leaves = leafCountOf(range);
    if (!(first < end && end <= leaves)) {
      throw new GrapevineError(
        "bad_request",
        `leaves [${first}, ${end}) outside a range of ${leaves}`,
      );
    }
    if (ask.length === 4)
      throw new GrapevineError("bad_request", "a bucket ask names bits and bucket");
    if (
      bits !== undefined &&
      bucket !== undefined &&
      (end !== first + 1 || bits < 1 || bits > LEAF_BUCKET_BITS_MAX || bucket >= 2 ** bits)
    ) {
      throw new GrapevineError(
        "bad_request",
        "a bucket ask names one leaf, 1 to 8 bits and a bucket below 2^bits",
      );
    }
    questions.push({ range, first, end, bits, bucket });
  }
  const listed = await listEntriesMany(
    deps.store,
    questions,
    REPAIR_PROTOCOL_LIMITS.entriesPerAskMax,
  );
  const lists: ([string[], number[], Buffer] | null)[] = [];
  // The reply's budget is spent in ask order; an ask that no longer fits is answered null.
  let room = REPAIR_PROTOCOL_LIMITS.entriesPerReplyMax;
  for (const entries of listed) {
    if (entries === null || entries.length > room) {
      lists.push(null);
      continue;
    }
    room -= entries.length;
    const hashes = Buffer.alloc(REPAIR_HASH_BYTES * entries.length);
    entries.forEach((entry, index) =>
      Buffer.from(entry.hash).copy(hashes, index * REPAIR_HASH_BYTES, 0, REPAIR_HASH_BYTES),
    );
    lists.push([
      entries.map((entry) => entry.key),
      entries.map((entry) => entry.timestampUs),
      hashes,
    ]);
  }
  return { lists };
}

async function answerBuckets(
  deps: RepairRoutesDeps,
  sessions: SessionRanges,
  request: BucketsRequest,
): Promise<unknown> {
  const window = sessions.session(request.from, request.session).window * REPAIR_NODE_HASH_BYTES;
  const questions = request.asks.map(([rangeIndex, leaf, bits]) => {
    const range = sessions.range(request.from, request.session, rangeIndex);
    const leaves = leafCountOf(range);
    if (leaf >= leaves)
      throw new GrapevineError("bad_request", `no leaf ${leaf} in a range of ${leaves}`);
    return { range, leaf, bits };
  });
  const all = await leafBucketHashesMany(
    deps.store,
    questions,
    REPAIR_PROTOCOL_LIMITS.entriesPerAskMax,
  );
  const hashes: (Buffer | null)[] = [];
  for (const digests of all) {
    if (digests === null) {
      hashes.push(null);
      continue;
    }
    const blob = Buffer.alloc(REPAIR_NODE_HASH_BYTES * digests.length);
    digests.forEach((digest, index) =>
      digest.copy(blob, index * REPAIR_NODE_HASH_BYTES, window, window + REPAIR_NODE_HASH_BYTES),
    );
    hashes.push(blob);
  }
  return { hashes };
}

async function answerExchange(
  deps: RepairRoutesDeps,
  stats: RepairRouteStats,
  request: ExchangeRequest,
): Promise<unknown> {
  const writes: KeyedRecord[] = [];
  for (const [key, bytes] of request.push) {
    if (!isValidReplicaKey(key))
      throw new GrapevineError("bad_request", "a key is 1 to 1024 bytes of well-formed UTF-8");
    let record;
    try {
      record = decodeRecord(bytes);
    } catch (error) {
      throw new GrapevineError(
        "bad_request",
        `a pushed record is malformed: ${(error as Error).message}`,
      );
    }
    deps.observeTimestamp(record.timestampUs);
    writes.push({ key, record });
  }
  for (const key of request.pull) {
    if (!isValidReplicaKey(key))
      throw new GrapevineError("bad_request", "a key is 1 to 1024 bytes of well-formed UTF-8");
  }
  if (writes.length > 0) {
    await deps.store.apply(writes);
    stats.recordsReceived += writes.length;
  }
  const records: (Buffer | null)[] = [];
  let bytes = 0;
  // Read in small concurrent groups: the store merges concurrent gets into one LevelDB getMany,
  // where one get at a time paid a thread-pool hop per key. The byte target is checked between
  // groups.
  full: for (let at = 0; at < request.pull.length; at += EXCHANGE_READS_PER_GROUP) {
    const group = request.pull.slice(at, at + EXCHANGE_READS_PER_GROUP);
    const stored = await Promise.all(group.map((key) => deps.store.get(key)));
    for (const record of stored) {
      if (records.length > 0 && bytes >= REPAIR_PROTOCOL_LIMITS.replyBytesTarget) break full;
      if (record === undefined) {
        records.push(null);
        continue;
      }
      const encoded = encodeRecord(record);
      records.push(encoded);
      bytes += encoded.length;
      stats.recordsSent += 1;
    }
  }
  return { records };
}

/**
 * The repair route without its HTTP server: fastify mounts it below, InternalRoutes calls it
 * directly. Each group keeps its own tree cache and session memory, so build one per node.
 */
export function repairRouteGroup(options: RepairRoutesOptions): NodeRouteGroup {
  const { deps, stats } = options;
  const trees = new TreeCache();
  const sessions = new SessionRanges();
  const route: NodeRoute = {
    path: REPAIR_PATH,
    bodyLimit: options.bodyBytesMax ?? REPAIR_REQUEST_BYTES_MAX,
    async handle(raw, sender) {
      const body = requireBody(raw, "a repair request");
      const decoded = decodeNodeBody(body, sender);
      if (!repairRequestCheck.Check(decoded)) {
        throw new GrapevineError(
          "bad_request",
          `bad repair request: ${firstRepairViolation(repairRequestCheck, decoded)}`,
        );
      }
      stats.requests++;
      stats.bytesReceived += body.length;
      const encoded = encodePeerBody(await answerRepair(deps, stats, trees, sessions, decoded));
      stats.bytesSent += encoded.length;
      return msgpackAnswer(encoded);
    },
  };
  return { clusterSecret: options.clusterSecret, stats, what: "repair", routes: [route] };
}

async function answerRepair(
  deps: RepairRoutesDeps,
  stats: RepairRouteStats,
  trees: TreeCache,
  sessions: SessionRanges,
  request: RepairRequest,
): Promise<unknown> {
  switch (request.op) {
    case "roots":
      return answerRoots(deps, trees, sessions, request);
    case "nodes":
      return answerNodes(deps, trees, sessions, request);
    case "buckets":
      return answerBuckets(deps, sessions, request);
    case "entries":
      return answerEntries(deps, sessions, request);
    case "exchange":
      return answerExchange(deps, stats, request);
  }
}

export const repairRoutes: FastifyPluginAsync<RepairRoutesOptions> = async (
  app: FastifyInstance,
  options,
) => {
  mountNodeRoutes(app, repairRouteGroup(options));
};
