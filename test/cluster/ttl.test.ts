// Time to live on real `grapevine start` processes (issue 17 §3): a value written with
// X-Grapevine-TTL, and one taking its bucket's ttlSeconds, show the seconds left on every node and
// then read as not found on every node, each reading its own replica (r=one); the expiry survives a
// restart and repair afterwards moves nothing; a value written with TTL 0 in the same bucket stays;
// a bad header is 400 bad_ttl.

import { request } from "undici";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { describe, expect, it } from "vitest";
import { httpRequest, TEST_HTTP_TIMEOUT_MS } from "../support/http.js";
import { runGrapevine, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("ttl");
const TTL_SECONDS = 3;

interface Read {
  readonly status: number;
  readonly ttl: string | undefined;
}

/** A GET of one key through `node`, with its X-Grapevine-TTL header. */
async function read(node: ClusterNode, path: string, r = "one"): Promise<Read> {
  const response = await request(`${node.url}${path}?r=${r}`, {
    signal: AbortSignal.timeout(TEST_HTTP_TIMEOUT_MS),
  });
  await response.body.text();
  const ttl = response.headers["x-grapevine-ttl"];
  return { status: response.statusCode, ttl: Array.isArray(ttl) ? ttl[0] : ttl };
}

async function put(node: ClusterNode, path: string, headers: Record<string, string> = {}) {
  return httpRequest(`${node.url}${path}?w=all`, { method: "PUT", headers, body: "v" });
}

describe("time to live on a real cluster", () => {
  it("expires values on every node, from the header or the bucket, through a restart", async () => {
    const gossip = ["--gossip-interval-ms", "200"];
    const a = await cluster.start({ id: "t1", args: gossip });
    const b = await cluster.start({ id: "t2", seeds: [a.address], args: gossip });
    const c = await cluster.start({ id: "t3", seeds: [a.address], args: gossip });
    const nodes = [a, b, c];
    // Every node a replica of every key (rf 3), live and normal on every node: w=all can succeed
    // and r=one reads the node's own replica.
    const ready = async (): Promise<boolean> => {
      const views = await Promise.all(
        nodes.map((node) => cluster.getJson<ClusterStatusBody>(node.id, "/cluster/status")),
      );
      return views.every(
        (view) =>
          view.members.length === 3 &&
          view.members.every((member) => member.live && member.state === "normal"),
      );
    };
    await waitFor(ready, { timeoutMs: 30_000, intervalMs: 100, what: "3 live normal members" });

    const props = await httpRequest(`${a.url}/buckets/sessions/props`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ttlSeconds: TTL_SECONDS }),
    });
    expect(props.status, props.text).toBe(200);
    for (const node of nodes)
      await waitFor(
        async () => {
          const got = await httpRequest(`${node.url}/buckets/sessions/props`);
          const body = JSON.parse(got.text) as { props: { ttlSeconds: unknown } };
          return body.props.ttlSeconds === TTL_SECONDS;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: `ttlSeconds on ${node.url}` },
      );

    const bad = await put(a, "/kv/x", { "x-grapevine-ttl": "-3" });
    expect([bad.status, JSON.parse(bad.text).error]).toEqual([400, "bad_ttl"]);
    const headerKey = "/kv/short";
    const bucketKey = "/buckets/sessions/keys/s1";
    const foreverKey = "/buckets/sessions/keys/kept";
    for (const [path, headers] of [
      [headerKey, { "x-grapevine-ttl": String(TTL_SECONDS) }],
      [bucketKey, {}],
      [foreverKey, { "x-grapevine-ttl": "0" }],
    ] as const) {
      const written = await put(b, path, headers);
      expect(written.status, written.text).toBe(204);
    }

    // Before the expiry every replica holds the value and tells the seconds left (read at once, in
    // parallel: a TTL of a few seconds leaves room for a slow machine).
    const reads = nodes.flatMap((node) =>
      [headerKey, bucketKey].map(async (path) => ({
        at: `${path} on ${node.url}`,
        ...(await read(node, path)),
      })),
    );
    for (const live of await Promise.all(reads)) {
      expect(live.status, live.at).toBe(200);
      expect(Number(live.ttl), live.at).toBeGreaterThanOrEqual(1);
      expect(Number(live.ttl), live.at).toBeLessThanOrEqual(TTL_SECONDS);
    }

    for (const node of nodes)
      await waitFor(
        async () =>
          (await read(node, headerKey)).status === 404 &&
          (await read(node, bucketKey)).status === 404,
        { timeoutMs: 10_000, intervalMs: 100, what: `expiry seen on ${node.url}` },
      );
    for (const node of nodes)
      expect(await read(node, foreverKey)).toEqual({ status: 200, ttl: undefined });

    // Nothing comes back through a restart, nor through repair, which finds nothing to move.
    await cluster.signal(c.id, "SIGTERM");
    const restarted = await cluster.restart(c.id);
    await waitFor(ready, { timeoutMs: 30_000, intervalMs: 100, what: "the restarted node back" });
    for (const path of [headerKey, bucketKey])
      expect((await read(restarted, path, "all")).status).toBe(404);
    const repair = await runGrapevine(["repair", "--node", restarted.url, "--json"], {
      timeoutMs: 60_000,
    });
    expect(repair.code, repair.stderr).toBe(0);
    const job = JSON.parse(repair.stdout) as {
      state: string;
      summary: { keysSent: number; keysReceived: number };
    };
    expect(job.state).toBe("done");
    expect(job.summary.keysSent + job.summary.keysReceived).toBe(0);
    for (const node of nodes)
      for (const path of [headerKey, bucketKey]) expect((await read(node, path)).status).toBe(404);
  }, 60_000);
});
