// Helpers for cluster tests of the data path: the client API with deadlines, a replica's own local
// record read through the replica route (no coordinator in between), and a 3-node cluster.

import { Pool } from "undici";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../src/net/codec.js";
import { REPLICA_PATH } from "../../src/net/replica-protocol.js";
import { decodeRecord, type StoredRecord } from "../../src/storage/record.js";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import type { ClusterNode, ProcessCluster } from "./process-cluster.js";
import { waitFor } from "./wait-for.js";

export const KV_TEST_TIMEOUT_MS = 10_000;

export interface KvAnswer {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly timestamp: string | undefined;
}

const pools = new Map<string, Pool>();

/** One keep-alive pool per node URL for the whole test file. */
function poolFor(url: string): Pool {
  let pool = pools.get(url);
  if (pool === undefined) {
    pool = new Pool(url, { connections: 16 });
    pools.set(url, pool);
  }
  return pool;
}

export async function closeKvPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.destroy()));
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A request to `/kv/<encodeURIComponent(key)>` (or the raw `path` given) with a deadline. */
export async function kv(
  url: string,
  method: "GET" | "PUT" | "DELETE",
  key: string,
  options: {
    query?: string;
    body?: Buffer | string;
    contentType?: string;
    rawPath?: string;
    timeoutMs?: number;
  } = {},
): Promise<KvAnswer> {
  const path =
    options.rawPath ??
    `/kv/${encodeURIComponent(key)}${options.query !== undefined ? `?${options.query}` : ""}`;
  const timeoutMs = options.timeoutMs ?? KV_TEST_TIMEOUT_MS;
  const headers: Record<string, string> = {};
  if (options.contentType !== undefined) headers["content-type"] = options.contentType;
  const response = await poolFor(url).request({
    method,
    path,
    headers,
    body: options.body,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  return {
    status: response.statusCode,
    body,
    contentType: header(response.headers["content-type"]),
    timestamp: header(response.headers["x-grapevine-timestamp"]),
  };
}

/** The error code of a JSON error body. */
export function errorCode(answer: KvAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body.toString("utf8")) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

export function errorBody(answer: KvAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
}

/** The record a node holds for a key in its own store, read through its replica route. */
export async function localRecord(
  node: ClusterNode,
  key: string,
): Promise<StoredRecord | undefined> {
  const response = await poolFor(node.url).request({
    method: "POST",
    path: REPLICA_PATH,
    headers: { "content-type": PEER_CONTENT_TYPE },
    body: encodePeerBody({ from: "test", ops: [["r", key]] }),
    headersTimeout: KV_TEST_TIMEOUT_MS,
    bodyTimeout: KV_TEST_TIMEOUT_MS,
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200)
    throw new Error(
      `${node.id} replica route answered ${response.statusCode}: ${bytes.toString()}`,
    );
  const [result] = (decodePeerBody(bytes) as { results: unknown[] }).results;
  if (result === null) return undefined;
  if (!(result instanceof Uint8Array))
    throw new Error(`${node.id} answered ${JSON.stringify(result)}`);
  return decodeRecord(result);
}

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

/**
 * The node at `index` of a started cluster's list; a test asking for one that is not there fails
 * loudly.
 */
export function nodeAt(nodes: readonly ClusterNode[], index: number): ClusterNode {
  const found = nodes[index];
  if (found === undefined) throw new Error(`no node ${index}`);
  return found;
}

/** Waits until each of `ids` sees exactly `ids.length` members, every one live and normal. */
export async function waitForNormalMembers(
  cluster: ProcessCluster,
  ids: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(
        ids.map((id) => cluster.getJson<ClusterStatusBody>(id, "/cluster/status")),
      );
      return views.every(
        (view) =>
          view.members.length === ids.length &&
          view.members.every((member) => member.live && member.state === "normal"),
      );
    },
    { timeoutMs, intervalMs: 200, what: `${ids.length} live normal members on every node` },
  );
}

/**
 * Starts `ids` (the first is the seed of the others) with `args`, and waits until each sees them
 * all live and normal.
 */
export async function startNodes(
  cluster: ProcessCluster,
  ids: readonly string[],
  args: readonly string[] = [],
  timeoutMs = 30_000,
): Promise<ClusterNode[]> {
  const [seedId, ...rest] = ids;
  if (seedId === undefined) throw new Error("startNodes needs at least one node");
  const seed = await cluster.start({ id: seedId, args });
  await cluster.startAll(rest.map((id) => ({ id, seeds: [seed.address], args })));
  await waitForNormalMembers(cluster, ids, timeoutMs);
  return ids.map((id) => cluster.node(id));
}

/** Starts node1..node3 (node1 the seed) with `args`; see startNodes. */
export function startThreeNodes(
  cluster: ProcessCluster,
  args: readonly string[] = [],
): Promise<ClusterNode[]> {
  return startNodes(cluster, ["node1", "node2", "node3"], args);
}

/**
 * Waits until a (re)started node coordinates client requests: it has learned the ring (`serving`).
 */
export async function waitForServing(
  cluster: ProcessCluster,
  id: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => (await cluster.getJson<ClusterStatusBody>(id, "/cluster/status")).serving !== false,
    { timeoutMs, intervalMs: 100, what: `${id} to serve client requests` },
  );
}

/** Waits until `observer` sees `subject` as live (or not). */
export async function waitForLiveness(
  cluster: ProcessCluster,
  observer: string,
  subject: string,
  live: boolean,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    async () => {
      const view = await cluster.getJson<ClusterStatusBody>(observer, "/cluster/status");
      return view.members.find((member) => member.id === subject)?.live === live;
    },
    { timeoutMs, intervalMs: 200, what: `${observer} to see ${subject} ${live ? "live" : "down"}` },
  );
}
