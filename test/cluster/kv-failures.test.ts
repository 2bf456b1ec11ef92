// The data path across 3 real processes (rf 3) when replicas fail: a stopped replica makes w=all
// time out at --request-timeout-ms; a replica killed right after acknowledging keeps the write;
// with one replica dead quorum still works and `all` is unavailable; with two dead quorum is
// unavailable. The tests run in order and share the cluster: each leaves it as the next expects.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeKvPools,
  errorBody,
  inParallel,
  kv,
  localRecord,
  startThreeNodes,
  waitForLiveness,
  nodeAt,
} from "../support/kv.js";
import { useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

/** Small so the timeout test is quick; long enough for a healthy replica on a busy test machine. */
const REQUEST_TIMEOUT_MS = 600;
/** "Near the timeout": the answer may come late by scheduling delays, never early. */
const TIMEOUT_SLACK_MS = 1_500;

const cluster = useProcessCluster("kv-failures");
let nodes: ClusterNode[] = [];

const node = (index: number): ClusterNode => nodeAt(nodes, index);

beforeAll(async () => {
  nodes = await startThreeNodes(cluster, ["--request-timeout-ms", String(REQUEST_TIMEOUT_MS)]);
});

afterAll(async () => {
  await closeKvPools();
});

describe("replica failures", () => {
  it("a SIGSTOPped replica makes w=all answer 504 timeout near --request-timeout-ms, while quorum succeeds", async () => {
    await cluster.pause("node3");
    try {
      // Before the detector convicts node3 (seconds), it is still live to node1: the write is
      // tried.
      const started = Date.now();
      const all = await kv(node(0).url, "PUT", "stopped-replica", { body: "v", query: "w=all" });
      const elapsed = Date.now() - started;
      expect(all.status).toBe(504);
      expect(errorBody(all)).toMatchObject({ error: "timeout", required: 3, acknowledged: 2 });
      expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + TIMEOUT_SLACK_MS);
      const quorum = await kv(node(0).url, "PUT", "stopped-replica", {
        body: "v2",
        query: "w=quorum",
      });
      expect(quorum.status).toBe(204);
      const metrics = (await kv(node(0).url, "GET", "", { rawPath: "/metrics" })).body.toString();
      expect(metrics).toMatch(/grapevine_replica_timeouts_total\{peer="node3"\} [1-9]/);
    } finally {
      await cluster.resume("node3");
    }
    await waitForLiveness(cluster, "node1", "node3", true);
  });

  it("a replica SIGKILLed right after acknowledging writes has every one of them after restart", async () => {
    const acknowledged: string[] = [];
    let stop = false;
    let writerEnded = false;
    // Writes at w=all through node1, one after another: each 204 means node3 acknowledged too.
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `durable-${i}`;
        const answer = await kv(node(0).url, "PUT", key, {
          body: `value-${i}`,
          query: "w=all",
        }).catch(() => null);
        if (answer?.status === 204) acknowledged.push(key);
        else break;
      }
    })().finally(() => (writerEnded = true));
    // A writer that stops early (a refused write) ends the wait too; the count is checked below.
    await waitFor(() => acknowledged.length >= 50 || writerEnded, {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: "50 writes acknowledged at w=all",
    });
    await cluster.kill("node3");
    stop = true;
    await writer;
    expect(acknowledged.length).toBeGreaterThanOrEqual(50);

    const restarted = await cluster.restart("node3");
    const missing: string[] = [];
    await inParallel(acknowledged, 16, async (key) => {
      const record = await localRecord(restarted, key);
      if (
        record === undefined ||
        Buffer.from(record.value).toString() !== key.replace("durable-", "value-")
      )
        missing.push(key);
    });
    expect(missing).toEqual([]);
    await waitForLiveness(cluster, "node1", "node3", true);
    await waitForLiveness(cluster, "node2", "node3", true);
  });

  it("with one node SIGKILLed, quorum reads and writes succeed and `all` gets 503 once it is convicted", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `one-down-${i}`);
    await inParallel(keys, 16, async (key) => {
      expect((await kv(node(0).url, "PUT", key, { body: key, query: "w=quorum" })).status).toBe(
        204,
      );
    });
    await cluster.kill("node3");
    // Before and after the conviction, quorum keeps working through both survivors.
    await inParallel(keys, 16, async (key) => {
      const read = await kv(node(1).url, "GET", key, { query: "r=quorum" });
      expect(read.status, key).toBe(200);
      expect(read.body.toString()).toBe(key);
      expect(
        (await kv(node(1).url, "PUT", `${key}-again`, { body: "v", query: "w=quorum" })).status,
      ).toBe(204);
    });
    await waitForLiveness(cluster, "node1", "node3", false);
    const all = await kv(node(0).url, "PUT", "needs-all", { body: "v", query: "w=all" });
    expect(all.status).toBe(503);
    expect(errorBody(all)).toMatchObject({ error: "unavailable", required: 3, alive: 2 });
    const allRead = await kv(node(0).url, "GET", keys[0] ?? "", { query: "r=all" });
    expect(allRead.status).toBe(503);
    // And a quorum read of what was written while node3 was dying still finds it.
    expect((await kv(node(0).url, "GET", "one-down-7-again", { query: "r=quorum" })).status).toBe(
      200,
    );
  });

  it("with two nodes down, quorum gets 503 unavailable with required and alive", async () => {
    await cluster.kill("node2");
    await waitForLiveness(cluster, "node1", "node2", false);
    const write = await kv(node(0).url, "PUT", "two-down", { body: "v", query: "w=quorum" });
    expect(write.status).toBe(503);
    expect(errorBody(write)).toMatchObject({ error: "unavailable", required: 2, alive: 1 });
    const read = await kv(node(0).url, "GET", "one-down-1", { query: "r=quorum" });
    expect(read.status).toBe(503);
    // One is still one: the survivor holds a replica of every key (rf 3 on 3 nodes).
    const one = await kv(node(0).url, "GET", "one-down-1", { query: "r=one" });
    expect(one.status).toBe(200);
  });
});
