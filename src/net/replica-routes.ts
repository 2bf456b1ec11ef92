// net/replica-routes.ts — the fastify plugin through which a node serves as a replica for other
// nodes' coordinators (`POST /internal/v1/replica`, net/replica-protocol.ts).
//
// Every body is distrusted until checked (ARCHITECTURE §6.5): the cluster secret first (before the
// body is read), then the content type, the size bound, msgpack decoding and the request schema;
// any failure is answered 401 `unauthorized` or 400 `bad_request` and counted, and the store never
// sees it. Inside a valid request each operation stands alone: a bad key or an undecodable record
// fails that operation (counted), not its neighbours.
//
// The writes of one request go to the store in ONE apply(), so they join the store's batch for
// this event-loop turn (storage/store.ts: one db.batch, and with --sync one fsync, for every write
// of the turn); the request is answered once that batch committed, so an acknowledged write is in
// the replica's LevelDB log. Each write's timestamp is merged into the replica's hybrid logical
// clock. A timestamp too far ahead of this replica's clock (more than --max-clock-offset-ms) is
// refused: that write alone fails with `clock_offset`, is counted and reported, and is never stored
// (issue 14 §2: one record stamped decades ahead, once stored and spread by read repair, made every
// later write to its key lose under last-write-wins while still being acknowledged). Every replica
// applies the same rule, so a coordinator whose clock runs ahead gets no acknowledgement and its
// write fails; a hint carrying such a record is dropped by its replayer (hinted-handoff.ts).

import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { NodeId } from "../core/ids.js";
import {
  decodeRecord,
  encodeRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../storage/record.js";
import { StoreClosedError, StoreOverloadedError, type Store } from "../storage/store.js";
import { GrapevineError } from "../core/errors.js";
import type { FallbackCopies } from "../replication/fallback-copies.js";
import { encodePeerBody } from "./codec.js";
import { mountNodeRoutes } from "./route-guard.js";
import {
  decodeNodeBody,
  msgpackAnswer,
  requireBody,
  type NodeRoute,
  type NodeRouteGroup,
} from "./node-route.js";
import {
  firstViolation,
  isValidReplicaKey,
  opError,
  REPLICA_OP_ERRORS,
  REPLICA_PATH,
  REPLICA_REQUEST_BYTES_MAX,
  replicaRequestCheck,
  type ReplicaOp,
  type ReplicaRequest,
  type ReplicaResult,
} from "./replica-protocol.js";

export interface ReplicaRoutesDeps {
  readonly store: Pick<Store, "apply" | "get">;
  /**
   * Merges a written record's timestamp into the node's hybrid logical clock; false when refused.
   */
  observeTimestamp(timestampUs: number): boolean;
  /** A write refused for its timestamp: the node counts it and logs it with its origin. */
  onTimestampRefused?(details: {
    readonly origin: NodeId;
    readonly key: string;
    readonly timestampUs: number;
  }): void;
  /**
   * True while this replica may miss acknowledged writes: its reads are refused. Never when absent.
   */
  recovering?(): boolean;
  /** The fallback copies this node holds for down primaries (sloppy quorum); none when absent. */
  readonly fallbacks?: Pick<FallbackCopies, "store" | "find">;
}

export interface ReplicaRoutesOptions {
  readonly clusterSecret: string | null;
  readonly deps: ReplicaRoutesDeps;
  readonly stats: ReplicaRouteStats;
  /** Tests lower it; the default fits a full request with the largest value. */
  readonly bodyBytesMax?: number;
}

/** Counters of the route, read by the metrics on scrape. */
export class ReplicaRouteStats {
  requests = 0;
  bytesReceived = 0;
  writesApplied = 0;
  reads = 0;
  /** Whole requests refused as malformed: content type, size, msgpack, schema. */
  refusedMalformed = 0;
  refusedUnauthorized = 0;
  /** Single operations refused inside a valid request: bad key, undecodable record. */
  opsRefused = 0;
  /** Operations the store failed (overloaded, closing, error). */
  opsFailed = 0;
  /** Writes refused because their timestamp was too far ahead of this replica's clock. */
  timestampsRefused = 0;
  /** Requests by sending coordinator, to see who drives a replica. */
  readonly requestsFrom = new Map<NodeId, number>();
}

/**
 * Senders tracked by name in requestsFrom; more are counted under "other" (ids come from the wire).
 */
const SENDERS_TRACKED_MAX = 1_024;

function storeFailure(error: unknown): ReplicaResult {
  if (error instanceof StoreOverloadedError)
    return opError(REPLICA_OP_ERRORS.overloaded, error.message);
  if (error instanceof StoreClosedError)
    return opError(REPLICA_OP_ERRORS.closed, "the replica is shutting down");
  return opError(REPLICA_OP_ERRORS.failed, error instanceof Error ? error.message : String(error));
}

/** The checked request, or a `bad_request` thrown before anything is counted or stored. */
function decodeReplicaRequest(
  raw: Buffer | undefined,
  sender: string | undefined,
): {
  readonly body: Buffer;
  readonly request: ReplicaRequest;
} {
  const body = requireBody(raw, "a replica request");
  const decoded = decodeNodeBody(body, sender);
  if (!replicaRequestCheck.Check(decoded)) {
    throw new GrapevineError(
      "bad_request",
      `bad replica request: ${firstViolation(replicaRequestCheck, decoded)}`,
    );
  }
  return { body, request: decoded };
}

function countRequest(stats: ReplicaRouteStats, from: NodeId, bytes: number): void {
  stats.requests++;
  stats.bytesReceived += bytes;
  const sender =
    stats.requestsFrom.has(from) || stats.requestsFrom.size < SENDERS_TRACKED_MAX ? from : "other";
  stats.requestsFrom.set(sender, (stats.requestsFrom.get(sender) ?? 0) + 1);
}

/**
 * One request's operations as they are sorted: results by index, the writes for one apply(), the
 * reads.
 */
interface OpsInProgress {
  readonly results: ReplicaResult[];
  readonly writes: KeyedRecord[];
  readonly writeIndexes: number[];
  readonly reads: Promise<void>[];
}

/** A write operation: ["w", key, encoded record] or ["f", key, encoded record, primary]. */
type WriteOp = Extract<ReplicaOp, readonly ["w" | "f", ...unknown[]]>;

/**
 * The write's record when it decodes and its timestamp is not from the future; else its failure is
 * recorded and undefined returned.
 */
function checkedRecord(
  op: WriteOp,
  index: number,
  from: NodeId,
  options: ReplicaRoutesOptions,
  work: OpsInProgress,
): StoredRecord | undefined {
  const { deps, stats } = options;
  const key = op[1];
  let record: StoredRecord;
  try {
    record = decodeRecord(op[2]);
  } catch (error) {
    stats.opsRefused++;
    work.results[index] = opError(REPLICA_OP_ERRORS.badRecord, (error as Error).message);
    return undefined;
  }
  if (!deps.observeTimestamp(record.timestampUs)) {
    stats.timestampsRefused++;
    deps.onTimestampRefused?.({ origin: from, key, timestampUs: record.timestampUs });
    work.results[index] = opError(
      REPLICA_OP_ERRORS.clockOffset,
      `the record's timestamp ${record.timestampUs} is further ahead of this replica's clock than the allowed clock offset`,
    );
    return undefined;
  }
  return record;
}

/**
 * Checks a write's record and its timestamp; queues it for the request's one apply(), or fails it
 * alone.
 */
function admitWrite(
  op: WriteOp,
  index: number,
  from: NodeId,
  options: ReplicaRoutesOptions,
  work: OpsInProgress,
): void {
  const record = checkedRecord(op, index, from, options, work);
  if (record === undefined) return;
  work.writes.push({ key: op[1], record });
  work.writeIndexes.push(index);
}

/** A fallback write: kept for its primary (replication/fallback-copies.ts), not in the data. */
function admitFallbackWrite(
  op: Extract<ReplicaOp, readonly ["f", ...unknown[]]>,
  index: number,
  from: NodeId,
  options: ReplicaRoutesOptions,
  work: OpsInProgress,
): void {
  const { deps, stats } = options;
  const fallbacks = deps.fallbacks;
  if (fallbacks === undefined) {
    stats.opsRefused++;
    work.results[index] = opError(REPLICA_OP_ERRORS.noFallbacks, "this node keeps no fallbacks");
    return;
  }
  if (checkedRecord(op, index, from, options, work) === undefined) return;
  work.reads.push(
    fallbacks.store(op[3], op[1], op[2]).then(
      (outcome) => {
        if (outcome === "stored") {
          work.results[index] = true;
          return;
        }
        stats.opsFailed++;
        work.results[index] =
          outcome === "full"
            ? opError(REPLICA_OP_ERRORS.fallbackFull, "this node holds its most fallback bytes")
            : opError(REPLICA_OP_ERRORS.failed, "storing the fallback copy failed");
      },
      (error: unknown) => {
        stats.opsFailed++;
        work.results[index] = storeFailure(error);
      },
    ),
  );
}

/** A fallback read: the newest copy of the key this node holds for any primary. */
function startFallbackRead(
  key: string,
  index: number,
  options: ReplicaRoutesOptions,
  work: OpsInProgress,
): void {
  const { deps, stats } = options;
  stats.reads++;
  if (deps.fallbacks === undefined) {
    work.results[index] = null;
    return;
  }
  work.reads.push(
    deps.fallbacks.find(key).then(
      (record) => {
        work.results[index] = record === undefined ? null : encodeRecord(record);
      },
      (error: unknown) => {
        stats.opsFailed++;
        work.results[index] = storeFailure(error);
      },
    ),
  );
}

/** Starts a read of a record ("r") or of its version only (a digest). */
function startRead(
  op: Extract<ReplicaOp, readonly ["r" | "d", ...unknown[]]>,
  index: number,
  options: ReplicaRoutesOptions,
  work: OpsInProgress,
): void {
  const { deps, stats } = options;
  const wantsData = op[0] === "r";
  stats.reads++;
  if (deps.recovering?.() === true) {
    stats.opsRefused++;
    work.results[index] = opError(
      REPLICA_OP_ERRORS.recovering,
      "this replica is repairing after a possible loss of writes",
    );
    return;
  }
  work.reads.push(
    deps.store.get(op[1]).then(
      (record) => {
        work.results[index] =
          record === undefined
            ? null
            : wantsData
              ? encodeRecord(record)
              : [record.timestampUs, record.writer];
      },
      (error: unknown) => {
        stats.opsFailed++;
        work.results[index] = storeFailure(error);
      },
    ),
  );
}

/**
 * Applies the request's writes in one apply() (one batch, one fsync) and records each one's result.
 */
async function applyWrites(options: ReplicaRoutesOptions, work: OpsInProgress): Promise<void> {
  if (work.writes.length === 0) return;
  const { deps, stats } = options;
  try {
    await deps.store.apply(work.writes);
    stats.writesApplied += work.writes.length;
    for (const index of work.writeIndexes) work.results[index] = true;
  } catch (error) {
    stats.opsFailed += work.writes.length;
    const failure = storeFailure(error);
    for (const index of work.writeIndexes) work.results[index] = failure;
  }
}

/**
 * Runs every operation of a checked request; each stands alone, so one bad key fails only itself.
 */
async function runOps(
  request: ReplicaRequest,
  options: ReplicaRoutesOptions,
): Promise<ReplicaResult[]> {
  const { from, ops } = request;
  const work: OpsInProgress = {
    results: new Array<ReplicaResult>(ops.length),
    writes: [],
    writeIndexes: [],
    reads: [],
  };
  for (let index = 0; index < ops.length; index++) {
    const op = ops[index] as ReplicaOp;
    if (!isValidReplicaKey(op[1])) {
      options.stats.opsRefused++;
      work.results[index] = opError(
        REPLICA_OP_ERRORS.badKey,
        "a key is 1 to 1024 bytes of well-formed UTF-8",
      );
    } else if (op[0] === "w") {
      admitWrite(op, index, from, options, work);
    } else if (op[0] === "f") {
      admitFallbackWrite(op, index, from, options, work);
    } else if (op[0] === "F") {
      startFallbackRead(op[1], index, options, work);
    } else {
      startRead(op, index, options, work);
    }
  }
  await applyWrites(options, work);
  if (work.reads.length > 0) await Promise.all(work.reads);
  return work.results;
}

/**
 * The replica route without its HTTP server: fastify mounts it below, InternalRoutes calls it
 * directly.
 */
export function replicaRouteGroup(options: ReplicaRoutesOptions): NodeRouteGroup {
  const route: NodeRoute = {
    path: REPLICA_PATH,
    bodyLimit: options.bodyBytesMax ?? REPLICA_REQUEST_BYTES_MAX,
    async handle(raw, sender) {
      const { body, request: checked } = decodeReplicaRequest(raw, sender);
      countRequest(options.stats, checked.from, body.length);
      const results = await runOps(checked, options);
      return msgpackAnswer(encodePeerBody({ results }));
    },
  };
  return {
    clusterSecret: options.clusterSecret,
    stats: options.stats,
    what: "replica",
    routes: [route],
  };
}

export const replicaRoutes: FastifyPluginAsync<ReplicaRoutesOptions> = async (
  app: FastifyInstance,
  options,
) => {
  mountNodeRoutes(app, replicaRouteGroup(options));
};
