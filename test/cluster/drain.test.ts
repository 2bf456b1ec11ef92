// A clean stop drains (issue 21 §3), on real `grapevine start` processes: a request in flight on
// the node when it gets SIGTERM completes while new connections are refused, and the node exits 0;
// its peers show it down (state normal, tokens kept, `shutdown`) within one gossip round of the
// signal, in `/cluster/status` and in `grapevine status`, and up again once it restarts.

import { spawnSync } from "node:child_process";
import net from "node:net";
import { describe, expect, it } from "vitest";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { fetchJson } from "../support/http.js";
import { kv, nodeAt, startThreeNodes, waitForLiveness, waitForServing } from "../support/kv.js";
import { GRAPEVINE_BIN, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { sleep, waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("drain");
/** The default --gossip-interval-ms: "within one gossip round". */
const GOSSIP_ROUND_MS = 1_000;

/** A PUT whose head and first half of the body are sent now; the rest when `finish` is called. */
function slowPut(
  port: number,
  key: string,
): { finish: () => void; answer: Promise<{ status: number; text: string }> } {
  const socket = net.connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
  });
  socket.write(
    `PUT /kv/${key}?w=all HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello`,
  );
  return { finish: () => socket.write("world"), answer };
}

/** Whether a new connection to the port is refused now. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(true));
  });
}

/** One three-node cluster for the file: the second test restarts the node the first one stopped. */
let started: Promise<ClusterNode[]> | null = null;
function threeNodes(): Promise<ClusterNode[]> {
  started ??= startThreeNodes(cluster);
  return started;
}

describe("a clean stop", () => {
  it("finishes the request in flight at SIGTERM while refusing new connections, and exits 0", async () => {
    const nodes = await threeNodes();
    const stopping = nodeAt(nodes, 2);
    const put = slowPut(stopping.port, "in-flight");
    // The head is in: the request passed the door before the stop began.
    await sleep(300);
    const exited = cluster.signal(stopping.id, "SIGTERM");
    await waitFor(() => refused(stopping.port), {
      timeoutMs: 5_000,
      intervalMs: 20,
      what: "the stopping node to refuse new connections",
    });
    put.finish();
    const answer = await put.answer;
    expect(answer.status, answer.text).toBe(204);
    expect(await exited).toEqual({ code: 0, signal: null });
    const read = await kv(nodeAt(nodes, 0).url, "GET", "in-flight", { query: "r=quorum" });
    expect(read.status).toBe(200);
    expect(read.body.toString()).toBe("helloworld");
    expect(cluster.tail(stopping.id, 40)).toMatch(/shutdown announced to peers/);
  }, 90_000);

  it("shows the node down on its peers within one gossip round, tokens kept, and up again after its restart", async () => {
    const nodes = await threeNodes();
    // The first test's node comes back: its restart's newer generation is up on every peer.
    const restarted = nodeAt(nodes, 2);
    if (!cluster.node(restarted.id).running) await cluster.restart(restarted.id);
    for (const observer of [nodeAt(nodes, 0), nodeAt(nodes, 1)])
      await waitForLiveness(cluster, observer.id, restarted.id, true, 15_000);
    const [first, second, stopping] = [nodeAt(nodes, 0), nodeAt(nodes, 2), nodeAt(nodes, 1)];
    const signalled = performance.now();
    const exited = cluster.signal(stopping.id, "SIGTERM");
    const seenDownMs = await Promise.all(
      [first, second].map((peer) =>
        waitFor(
          async () => {
            const view = await fetchJson<ClusterStatusBody>(`${peer.url}/cluster/status`);
            const member = view.members.find((m) => m.id === stopping.id);
            return member !== undefined && !member.live ? performance.now() - signalled : false;
          },
          { timeoutMs: 10_000, intervalMs: 20, what: `${peer.id} to see ${stopping.id} down` },
        ),
      ),
    );
    for (const ms of seenDownMs) expect(ms).toBeLessThan(GOSSIP_ROUND_MS);
    expect(await exited).toEqual({ code: 0, signal: null });
    const view = await fetchJson<ClusterStatusBody>(`${first.url}/cluster/status`);
    expect(view.members.find((m) => m.id === stopping.id)).toMatchObject({
      state: "normal",
      live: false,
      shutdown: true,
      tokens: 16,
    });
    const status = spawnSync(process.execPath, [GRAPEVINE_BIN, "status", "--node", second.url], {
      encoding: "utf8",
    });
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^DN\\s+${stopping.id}\\s`, "m"));
    expect(status.stdout).toContain(
      `Stopped cleanly (shutdown announced, tokens kept): ${stopping.id}`,
    );

    await cluster.restart(stopping.id);
    await waitForServing(cluster, stopping.id);
    await waitForLiveness(cluster, first.id, stopping.id, true, 10_000);
    const after = await fetchJson<ClusterStatusBody>(`${first.url}/cluster/status`);
    const member = after.members.find((m) => m.id === stopping.id);
    expect(member?.shutdown).toBeUndefined();
    expect(member?.live).toBe(true);
  }, 90_000);

  it("stops a node on `grapevine stop` the same way: exit 0, down on its peers with tokens kept", async () => {
    const nodes = await threeNodes();
    const [stopping, peer] = [nodeAt(nodes, 0), nodeAt(nodes, 1)];
    for (const node of nodes) if (!cluster.node(node.id).running) await cluster.restart(node.id);
    await waitForLiveness(cluster, peer.id, stopping.id, true, 15_000);
    const exited = cluster.node(stopping.id).exited;
    const stop = spawnSync(process.execPath, [GRAPEVINE_BIN, "stop", "--node", stopping.url], {
      encoding: "utf8",
    });
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toBe(`${stopping.id} stopped\n`);
    expect(await exited).toEqual({ code: 0, signal: null });
    const view = await fetchJson<ClusterStatusBody>(`${peer.url}/cluster/status`);
    expect(view.members.find((m) => m.id === stopping.id)).toMatchObject({
      state: "normal",
      live: false,
      shutdown: true,
      tokens: 16,
    });
    expect(cluster.tail(stopping.id, 40)).toMatch(/"reason":"grapevine stop"/);
  }, 90_000);
});
