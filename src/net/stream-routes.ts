// net/stream-routes.ts — the routes through which a node serves range streaming to its peers
// (net/stream-protocol.ts): a page of a token range out of its store (fetch), and a page of
// streamed records into it (push). A route group (net/node-route.ts): fastify mounts it
// (streamRoutes), the simulator serves it without fastify (net/internal-routes.ts).
//
// Guarded like every node-to-node route (net/route-guard.ts: secret, msgpack, size), then checked
// against the schema. A fetch reads from the store's token-ordered scan (storage snapshot per
// scan), resuming after the caller's cursor, and closes the page at the record count or the byte
// bound (topology/stream.ts takePage: one record larger than the bound goes alone). A push goes
// through store.apply — the last-write-wins merge — in one call, so a streamed record never
// replaces a newer version and the reply comes once the batch is committed (durable as the store's
// --sync promises).

import type { FastifyPluginAsync } from "fastify";
import { GrapevineError } from "../core/errors.js";
import { decodeRecord, encodeRecord, type KeyedRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import { encodePeerBody } from "./codec.js";
import {
  decodeNodeBody,
  msgpackAnswer,
  requireBody,
  type NodeRoute,
  type NodeRouteAnswer,
  type NodeRouteGroup,
} from "./node-route.js";
import { isValidReplicaKey } from "./replica-protocol.js";
import { mountNodeRoutes } from "./route-guard.js";
import { streamedBytes, takePage } from "../topology/stream-pages.js";
import {
  STREAM_FETCH_PATH,
  STREAM_PAGE_BYTES_MAX,
  STREAM_PROTOCOL_LIMITS,
  STREAM_PUSH_PATH,
  streamFetchRequestCheck,
  streamPushRequestCheck,
  streamViolation,
  type StreamFetchReply,
  type StreamPushReply,
} from "./stream-protocol.js";

/** Counters of the stream routes, read by the metrics. */
export class StreamRouteStats {
  fetches = 0;
  recordsSent = 0;
  bytesSent = 0;
  pushes = 0;
  recordsReceived = 0;
  bytesReceived = 0;
  refusedMalformed = 0;
  refusedUnauthorized = 0;
}

export interface StreamRoutesOptions {
  readonly clusterSecret: string | null;
  readonly store: Pick<Store, "scanRange" | "apply">;
  readonly stats: StreamRouteStats;
}

type StreamStore = StreamRoutesOptions["store"];

async function answerFetch(
  store: StreamStore,
  stats: StreamRouteStats,
  raw: Buffer | undefined,
  sender: string | undefined,
): Promise<NodeRouteAnswer> {
  const decoded = decodeNodeBody(requireBody(raw, "a stream request"), sender);
  if (!streamFetchRequestCheck.Check(decoded)) {
    throw new GrapevineError(
      "bad_request",
      `bad stream fetch: ${streamViolation(streamFetchRequestCheck, decoded)}`,
    );
  }
  const afterKey = decoded.after ?? null;
  if (afterKey !== null && !isValidReplicaKey(afterKey))
    throw new GrapevineError(
      "bad_request",
      "bad stream fetch: after is not 1 to 1024 bytes of UTF-8",
    );
  const page = await takePage(
    store.scanRange(
      { start: decoded.start, end: decoded.end },
      { limit: decoded.limit + 1, tombstones: true, afterKey },
    ),
    (scanned) => encodeRecord(scanned.record),
    {
      recordsMax: decoded.limit,
      bytesMax: decoded.bytes ?? STREAM_PROTOCOL_LIMITS.pageBytesTarget,
    },
  );
  const records: StreamFetchReply["records"] = page.records.map((streamed) => [
    streamed.key,
    streamed.record,
    streamed.token,
  ]);
  let bytes = 0;
  for (const streamed of page.records) bytes += streamedBytes(streamed.key, streamed.record);
  const done = page.done;
  stats.fetches++;
  stats.recordsSent += records.length;
  stats.bytesSent += bytes;
  const body: StreamFetchReply = { records, done };
  return msgpackAnswer(encodePeerBody(body));
}

async function answerPush(
  store: StreamStore,
  stats: StreamRouteStats,
  raw: Buffer | undefined,
  sender: string | undefined,
): Promise<NodeRouteAnswer> {
  const decoded = decodeNodeBody(requireBody(raw, "a stream request"), sender);
  if (!streamPushRequestCheck.Check(decoded)) {
    throw new GrapevineError(
      "bad_request",
      `bad stream push: ${streamViolation(streamPushRequestCheck, decoded)}`,
    );
  }
  const writes: KeyedRecord[] = [];
  let bytes = 0;
  for (const [key, recordBytes] of decoded.records) {
    if (!isValidReplicaKey(key))
      throw new GrapevineError("bad_request", "a streamed key is not 1 to 1024 bytes of UTF-8");
    try {
      writes.push({ key, record: decodeRecord(recordBytes) });
    } catch (error) {
      throw new GrapevineError(
        "bad_request",
        `a streamed record is malformed: ${(error as Error).message}`,
      );
    }
    bytes += key.length + recordBytes.length;
  }
  const result = await store.apply(writes);
  stats.pushes++;
  stats.recordsReceived += writes.length;
  stats.bytesReceived += bytes;
  const body: StreamPushReply = { applied: result.written, superseded: result.superseded };
  return msgpackAnswer(encodePeerBody(body));
}

/**
 * The stream routes without their HTTP server: fastify mounts them below, InternalRoutes calls them
 * directly. Both read bodies up to one page at its largest (STREAM_PAGE_BYTES_MAX): a fetch is far
 * smaller, but one bound keeps what a source accepts the same on both routes.
 */
export function streamRouteGroup(options: StreamRoutesOptions): NodeRouteGroup {
  const { store, stats } = options;
  const routes: NodeRoute[] = [
    {
      path: STREAM_FETCH_PATH,
      bodyLimit: STREAM_PAGE_BYTES_MAX,
      handle: (raw, sender) => answerFetch(store, stats, raw, sender),
    },
    {
      path: STREAM_PUSH_PATH,
      bodyLimit: STREAM_PAGE_BYTES_MAX,
      handle: (raw, sender) => answerPush(store, stats, raw, sender),
    },
  ];
  return { clusterSecret: options.clusterSecret, stats, what: "stream", routes };
}

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, options) => {
  mountNodeRoutes(app, streamRouteGroup(options));
};
