// The client library (src/client/, issue 20 §2) against 4 real `grapevine start` processes, rf 3:
// token-aware requests are coordinated only by replicas of their key (each node's own
// kv_requests_total counts the requests it coordinated), any-node ones by every node, and the
// client keeps working when a replica of the key is killed.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Grapevine } from "../../src/client/index.js";
import { tokenFromString, tokenOf } from "../../src/ring/partitioner.js";
import { rangeContains } from "../../src/ring/token-map.js";
import type { RingBody } from "../../src/api/cluster-routes.js";
import { httpRequest } from "../support/http.js";
import { startNodes } from "../support/kv.js";
import { useProcessCluster, type ClusterNode } from "../support/process-cluster.js";

const IDS = ["node1", "node2", "node3", "node4"];
const KEY = "client-library/key";
const REQUESTS = 30;

const cluster = useProcessCluster("client");
let nodes: ClusterNode[] = [];
const clients: Grapevine[] = [];

function client(options: { routing?: "token-aware" | "any-node" } = {}): Grapevine {
  const db = new Grapevine({ nodes: [nodes[0]?.url as string], ...options });
  clients.push(db);
  return db;
}

/** Client requests this node has coordinated (SPEC §3 /metrics: kv_requests_total). */
async function coordinated(node: ClusterNode): Promise<number> {
  const answer = await httpRequest(`${node.url}/metrics`);
  return answer.text
    .split("\n")
    .filter((line) => line.startsWith("grapevine_kv_requests_total{"))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

async function coordinatedByNode(): Promise<Map<string, number>> {
  const live = nodes.filter((node) => cluster.node(node.id).running);
  return new Map(
    await Promise.all(live.map(async (node) => [node.id, await coordinated(node)] as const)),
  );
}

beforeAll(async () => {
  const args = ["--replication-factor", "3"];
  nodes = await startNodes(cluster, IDS, args, 60_000);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((db) => db.close()));
});

describe("the client library on a real cluster", () => {
  it("learns the ring from one node and picks the replicas the ring names", async () => {
    const db = client();
    await db.connect();
    expect(
      db
        .members()
        .map((member) => member.url)
        .sort(),
    ).toEqual(nodes.map((n) => n.url).sort());
    const ring = await cluster.getJson<RingBody>("node1", "/cluster/ring");
    const token = tokenOf(KEY);
    const range = ring.ranges.find((candidate) =>
      rangeContains(
        { start: tokenFromString(candidate.start), end: tokenFromString(candidate.end) },
        token,
      ),
    );
    const byId = new Map(nodes.map((node) => [node.id, node.url]));
    expect(db.replicasOf(KEY)).toEqual(range?.replicas.map((id) => byId.get(id)));
  });

  it("token-aware: only replicas of the key coordinate its requests; any-node: every node does", async () => {
    const db = client();
    await db.connect();
    const replicas = new Set(db.replicasOf(KEY));
    const outsider = nodes.find((node) => !replicas.has(node.url)) as ClusterNode;
    expect(replicas.size).toBe(3);
    const before = await coordinatedByNode();
    for (let i = 0; i < REQUESTS; i++) {
      await db.put(KEY, `value ${i}`);
      expect((await db.get(KEY))?.value.toString()).toBe(`value ${i}`);
    }
    const after = await coordinatedByNode();
    expect(after.get(outsider.id)).toBe(before.get(outsider.id));
    const byReplicas = [...after].reduce((sum, [id, n]) => sum + n - (before.get(id) ?? 0), 0);
    expect(byReplicas).toBeGreaterThanOrEqual(2 * REQUESTS);

    const anyNode = client({ routing: "any-node" });
    for (let i = 0; i < REQUESTS; i++) await anyNode.get(KEY);
    expect(await coordinated(outsider)).toBeGreaterThan(after.get(outsider.id) as number);
  });

  it("writes with a time to live, reads the seconds left, and refuses a bad one unsent", async () => {
    const db = client();
    await db.put("ttl-key", "short-lived", { ttlSeconds: 600 });
    const entry = await db.get("ttl-key");
    expect(entry?.value.toString()).toBe("short-lived");
    expect(entry?.ttlSeconds).toBeGreaterThan(590);
    expect(entry?.ttlSeconds).toBeLessThanOrEqual(600);
    await db.put("ttl-key", "forever", { ttlSeconds: 0 });
    expect((await db.get("ttl-key"))?.ttlSeconds).toBeUndefined();
    for (const ttlSeconds of [-1, 1.5, 315_360_001])
      await expect(db.put("ttl-key", "x", { ttlSeconds })).rejects.toMatchObject({
        code: "bad_ttl",
      });
  });

  it("keeps reading and writing when a replica of the key is killed", async () => {
    const db = client();
    await db.connect();
    const victim = nodes.find((node) => node.url === db.replicasOf(KEY)[0]) as ClusterNode;
    await db.put(KEY, "before the kill");
    await cluster.kill(victim.id);
    expect((await db.get(KEY))?.value.toString()).toBe("before the kill");
    for (let i = 0; i < REQUESTS; i++) {
      await db.put(`${KEY}/${i}`, `after ${i}`);
      expect((await db.get(`${KEY}/${i}`))?.value.toString()).toBe(`after ${i}`);
    }
    await db.put(KEY, "after the kill");
    expect((await db.get(KEY))?.value.toString()).toBe("after the kill");
  });
});
