// The client library against a fake cluster of node:http servers (fake-cluster.ts): token-aware
// routing, what is retried and what never is, the deadline, the address translator, ring refresh.

import { afterEach, describe, expect, it } from "vitest";
import {
  Grapevine,
  GrapevineClientError,
  GrapevineResponseError,
  addressTable,
  type GrapevineOptions,
} from "../../../src/client/index.js";
import { tokenOf, TOKEN_SPACE, type Token } from "../../../src/ring/partitioner.js";
import { replicasFor } from "../../../src/ring/placement.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import type { ClientTransport } from "../../../src/client/transport.js";
import { FakeCluster } from "./fake-cluster.js";

const TOKENS_PER_NODE = 4;
const KEYS = Array.from({ length: 60 }, (_, index) => `key-${index}`);

/** Node i of n owns every n-th of n·TOKENS_PER_NODE evenly spaced tokens. */
function evenTokens(nodes: number): Token[][] {
  const step = TOKEN_SPACE / BigInt(nodes * TOKENS_PER_NODE);
  return Array.from({ length: nodes }, (_, node) =>
    Array.from({ length: TOKENS_PER_NODE }, (_, k) => BigInt(k * nodes + node) * step + 7n),
  );
}

function ownerOf(cluster: FakeCluster, key: string): string {
  const ring = TokenMap.build(new Map(cluster.nodes.map((node) => [node.id, node.tokens])));
  return replicasFor(ring, tokenOf(key), 1)[0] as string;
}

let cluster: FakeCluster | null = null;
let client: Grapevine | null = null;

async function start(nodes: number, options: Partial<GrapevineOptions> = {}): Promise<Grapevine> {
  cluster = await FakeCluster.start(evenTokens(nodes));
  client = new Grapevine({
    nodes: [cluster.nodes[0]?.url as string],
    retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
    ...options,
  });
  await client.connect();
  return client;
}

function fake(): FakeCluster {
  if (cluster === null) throw new Error("no cluster");
  return cluster;
}

afterEach(async () => {
  await client?.close();
  await cluster?.close();
  client = null;
  cluster = null;
});

describe("the client library", () => {
  it("puts, gets and deletes, with the content type and timestamp", async () => {
    const db = await start(3);
    const written = await db.put("a/b c", "grapes", { contentType: "text/plain" });
    expect(written.timestampUs).toBeGreaterThan(0);
    const entry = await db.get("a/b c");
    expect(entry?.value.toString("utf8")).toBe("grapes");
    expect(entry?.contentType).toBe("text/plain");
    await db.delete("a/b c");
    expect(await db.get("a/b c")).toBeNull();
  });

  it("token-aware: sends every request to the key's replica, learned from one seed", async () => {
    const db = await start(3);
    expect(db.members().map((member) => member.id)).toEqual(["n0", "n1", "n2"]);
    for (const key of KEYS) await db.put(key, "v");
    const owners = new Set<string>();
    for (const key of KEYS) {
      const owner = ownerOf(fake(), key);
      owners.add(owner);
      const puts = fake().seen.filter(
        (seen) => seen.url.startsWith(`/kv/${key}?`) || seen.url === `/kv/${key}`,
      );
      expect(puts.map((seen) => seen.node)).toEqual([owner]);
    }
    expect(owners.size).toBe(3);
  });

  it("any-node: spreads requests over every member, replica or not", async () => {
    const db = await start(3, { routing: "any-node" });
    for (const key of KEYS) await db.get(key);
    const counts = fake().nodes.map((node) => fake().kvRequestsAt(node.id).length);
    expect(counts).toEqual([20, 20, 20]);
  });

  it("passes the consistency level and refuses a bad key without sending", async () => {
    const db = await start(1);
    await db.put("k", "v", { w: "all" });
    await db.get("k", { r: 1 });
    expect(
      fake()
        .kvRequestsAt("n0")
        .map((seen) => seen.url),
    ).toEqual(["/kv/k?w=all", "/kv/k?r=1"]);
    await expect(db.get("")).rejects.toMatchObject({ code: "bad_key", status: 400 });
    expect(fake().kvRequestsAt("n0")).toHaveLength(2);
  });
});

describe("retries", () => {
  it("retries a read after a 504 at another node", async () => {
    const db = await start(3);
    await db.put("k", "v");
    const owner = ownerOf(fake(), "k");
    fake().behaviour = (node) =>
      node === owner ? { status: 504, body: { error: "timeout", message: "late" } } : undefined;
    const entry = await db.get("k");
    expect(entry?.value.toString()).toBe("v");
    const gets = fake().seen.filter((seen) => seen.method === "GET" && seen.url.startsWith("/kv/"));
    expect(gets[0]?.node).toBe(owner);
    expect(gets[1]?.node).not.toBe(owner);
  });

  it("never retries a PUT after a 504: the write may have landed", async () => {
    const db = await start(3);
    fake().behaviour = () => ({
      status: 504,
      body: { error: "timeout", message: "late", required: 2, acknowledged: 1 },
    });
    const failure = await db.put("k", "v").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GrapevineResponseError);
    expect(failure).toMatchObject({
      code: "timeout",
      status: 504,
      applied: "unknown",
      attempts: 1,
    });
    expect((failure as GrapevineResponseError).details).toMatchObject({
      required: 2,
      acknowledged: 1,
    });
    expect(fake().seen.filter((seen) => seen.method === "PUT")).toHaveLength(1);
  });

  it("never retries a PUT that got no answer in time", async () => {
    const db = await start(3, { attemptTimeoutMs: 200 });
    fake().behaviour = (_node, method) => (method === "PUT" ? "hang" : undefined);
    const failure = await db.put("k", "v").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GrapevineClientError);
    expect(failure).toMatchObject({ reason: "no_answer", applied: "unknown", attempts: 1 });
    expect(fake().seen.filter((seen) => seen.method === "PUT")).toHaveLength(1);
  });

  it("never retries a DELETE whose connection dropped after sending", async () => {
    const db = await start(3);
    fake().behaviour = (_node, method) => (method === "DELETE" ? "drop" : undefined);
    await expect(db.delete("k")).rejects.toMatchObject({ reason: "no_answer", applied: "unknown" });
    expect(fake().seen.filter((seen) => seen.method === "DELETE")).toHaveLength(1);
  });

  it("retries a PUT refused with 503 starting, at another node", async () => {
    const db = await start(3);
    const owner = ownerOf(fake(), "k");
    fake().behaviour = (node) =>
      node === owner
        ? { status: 503, body: { error: "unavailable", message: "starting", reason: "starting" } }
        : undefined;
    await db.put("k", "v");
    const puts = fake().seen.filter((seen) => seen.method === "PUT");
    expect(puts.map((seen) => seen.node)[0]).toBe(owner);
    expect(puts).toHaveLength(2);
    expect(fake().store.get("k")?.value.toString()).toBe("v");
  });

  it("retries a PUT whose connection was refused, at a live node", async () => {
    const db = await start(3);
    const owner = ownerOf(fake(), "k");
    await fake().stop(owner);
    await db.put("k", "v");
    expect(fake().store.get("k")?.value.toString()).toBe("v");
    expect(fake().kvRequestsAt(owner)).toHaveLength(0);
  });

  it("does not retry a 400: the answer is final", async () => {
    const db = await start(3);
    fake().behaviour = () => ({ status: 400, body: { error: "bad_consistency", message: "no" } });
    await expect(db.get("k", { r: 9 })).rejects.toMatchObject({
      code: "bad_consistency",
      status: 400,
      attempts: 1,
    });
  });

  it("gives up at the deadline, however many attempts are left", async () => {
    const db = await start(3, { retry: { attempts: 100, baseDelayMs: 20, maxDelayMs: 40 } });
    fake().behaviour = () => ({
      status: 503,
      body: { error: "unavailable", message: "no", required: 2, alive: 1 },
    });
    const started = performance.now();
    const failure = await db.get("k", { deadlineMs: 300 }).catch((error: unknown) => error);
    const elapsed = performance.now() - started;
    expect(failure).toMatchObject({ reason: "deadline", applied: "no" });
    expect(((failure as GrapevineClientError).cause as GrapevineResponseError).code).toBe(
      "unavailable",
    );
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1_000);
  });
});

describe("the ring", () => {
  it("reaches nodes through the address translator when their advertised address is not reachable", async () => {
    cluster = await FakeCluster.start(evenTokens(3));
    const table: Record<string, string> = {};
    for (const node of cluster.nodes) {
      node.address = `grapevine-${node.id}:7001`;
      table[node.address] = node.url;
    }
    client = new Grapevine({
      nodes: [cluster.nodes[0]?.url as string],
      addressTranslator: addressTable(table),
    });
    for (const key of KEYS) await client.put(key, "v");
    for (const key of KEYS.slice(0, 10)) {
      const owner = ownerOf(cluster, key);
      expect(cluster.kvRequestsAt(owner).some((seen) => seen.url.startsWith(`/kv/${key}`))).toBe(
        true,
      );
    }
    expect(client.members().map((member) => member.url)).toEqual(
      cluster.nodes.map((node) => node.url),
    );
  });

  it("reads the ring again and follows a token that moved", async () => {
    const db = await start(2, { ringRefreshMs: 100 });
    const key = KEYS.find((candidate) => ownerOf(fake(), candidate) === "n0") as string;
    await db.put(key, "v");
    expect(fake().kvRequestsAt("n0")).toHaveLength(1);
    // n1 takes every token: the key's replica is now n1.
    const n0 = fake().node("n0");
    const n1 = fake().node("n1");
    n1.tokens = [...n1.tokens, ...n0.tokens];
    n0.tokens = [];
    await new Promise((resolve) => setTimeout(resolve, 400));
    await db.put(key, "w");
    expect(fake().kvRequestsAt("n1").length).toBe(1);
  });

  it("skips a member the ring reports down", async () => {
    const db = await start(3, { ringRefreshMs: 100 });
    const key = KEYS.find((candidate) => ownerOf(fake(), candidate) === "n2") as string;
    fake().node("n2").live = false;
    await new Promise((resolve) => setTimeout(resolve, 400));
    await db.get(key);
    expect(fake().kvRequestsAt("n2")).toHaveLength(0);
  });
});

describe("the first read of the ring", () => {
  it("does not hold a call past its deadline when the seed does not answer it", async () => {
    const seed = "http://127.0.0.1:1";
    const sent: string[] = [];
    const transport: ClientTransport = {
      send: async (_url, request) => {
        sent.push(request.path);
        if (request.path.startsWith("/cluster/")) await new Promise(() => undefined);
        return {
          ok: true,
          answer: { status: 204, contentType: undefined, timestamp: "5", body: Buffer.alloc(0) },
        };
      },
      close: async () => undefined,
    };
    client = new Grapevine({ nodes: [seed], transport });
    const started = performance.now();
    expect(await client.put("k", "v", { deadlineMs: 200 })).toEqual({ timestampUs: 5 });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(sent).toContain("/kv/k");
  });
});
