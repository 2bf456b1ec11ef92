// Issue 14 §2 on real processes: one node of three runs with its wall clock an hour ahead
// (libfaketime, monotonic time left alone, so its timers and failure detector are normal). The
// heartbeat exchange measures the offset, that node alone stops coordinating writes (503
// unavailable, reason clock_offset, in /cluster/status and `grapevine status`), its writes never
// overwrite a later write made through a healthy node, the healthy nodes keep serving, and replicas
// refuse records stamped from the future — including the one stamped decades ahead that used to
// take a key over for good. Needs the `faketime` Debian package (.ci/run installs it) for its
// libfaketime. The library is preloaded straight into the node process (LD_PRELOAD + FAKETIME)
// rather than through the `faketime` command, which forks and waits: the PID the cluster helper
// signals would be the wrapper's, and the node would outlive the test.

import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "../../src/net/codec.js";
import { REPLICA_PATH } from "../../src/net/replica-protocol.js";
import { encodeRecord, type StoredRecord } from "../../src/storage/record.js";
import { closeKvPools, errorBody, kv, localRecord } from "../support/kv.js";
import { runGrapevine, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";
import { request } from "undici";
import { httpRequest, TEST_HTTP_TIMEOUT_MS } from "../support/http.js";

const HOUR_MS = 3_600_000;
const DECADES_US = 30 * 365 * 24 * 3600 * 1_000_000;
const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
].find((candidate) => existsSync(candidate));

/**
 * libfaketime: realtime shifted by `offset` ("+1h"); CLOCK_MONOTONIC stays real (Node's timers use
 * it).
 */
function shiftedClock(offset: string): { env: Record<string, string> } {
  if (LIBFAKETIME === undefined)
    throw new Error("this test needs libfaketime (apt-get install faketime)");
  return { env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" } };
}

const cluster = useProcessCluster("clock-offset");
let healthy1: ClusterNode;
let healthy2: ClusterNode;
let shifted: ClusterNode;

async function status(id: string): Promise<ClusterStatusBody> {
  return cluster.getJson<ClusterStatusBody>(id, "/cluster/status");
}

/** A replica write sent to a node's replica route as a coordinator would; the per-op result. */
async function replicaWrite(
  node: ClusterNode,
  key: string,
  record: StoredRecord,
): Promise<unknown> {
  const response = await request(`${node.url}${REPLICA_PATH}`, {
    method: "POST",
    headers: { "content-type": PEER_CONTENT_TYPE },
    body: encodePeerBody({ from: "test-coordinator", ops: [["w", key, encodeRecord(record)]] }),
    signal: AbortSignal.timeout(TEST_HTTP_TIMEOUT_MS),
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  expect(response.statusCode).toBe(200);
  return (decodePeerBody(bytes) as { results: unknown[] }).results[0];
}

function record(timestampUs: number, value: string): StoredRecord {
  return {
    value: Buffer.from(value),
    contentType: "text/plain",
    timestampUs,
    writer: "test-coordinator",
    tombstone: false,
  };
}

beforeAll(async () => {
  healthy1 = await cluster.start({ id: "node1" });
  [healthy2, shifted] = (await cluster.startAll([
    { id: "node2", seeds: [healthy1.address] },
    { id: "node3", seeds: [healthy1.address], ...shiftedClock("+1h") },
  ])) as [ClusterNode, ClusterNode];
  await waitFor(
    async () => {
      const views = await Promise.all(["node1", "node2", "node3"].map(status));
      return views.every(
        (view) =>
          view.members.length === 3 &&
          view.members.every((member) => member.live && member.state === "normal"),
      );
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "3 live normal members on every node" },
  );
});

afterAll(async () => {
  await closeKvPools();
});

describe("a node whose clock is an hour ahead", () => {
  it("measures its offset from heartbeats and fences itself, and only itself", async () => {
    const fenced = await waitFor(
      async () => {
        const view = await status("node3");
        return view.clock?.inRange === false ? view.clock : null;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "node3 to fence itself for its clock" },
    );
    expect(fenced.outOfRange).toBe(2);
    for (const peer of fenced.peers) {
      expect(peer.outOfRange).toBe(true);
      expect(Math.abs(peer.offsetMs + HOUR_MS)).toBeLessThan(5_000);
    }
    const view1 = await waitFor(
      async () => {
        const view = await status("node1");
        return view.clock !== undefined && view.clock.measured === 2 ? view.clock : null;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "node1 to measure both peers" },
    );
    expect(view1.inRange).toBe(true);
    expect(view1.peers.find((peer) => peer.id === "node3")).toMatchObject({ outOfRange: true });
    expect(view1.peers.find((peer) => peer.id === "node2")).toMatchObject({ outOfRange: false });
    expect((await status("node2")).clock?.inRange).toBe(true);

    const cli = await runGrapevine(["status", "--node", shifted.url]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(
      /clock is more than 500 ms off from most of its peers.*503 clock_offset/,
    );

    // Readiness says the same: the shifted node is not ready, for its clock; the healthy ones are.
    const notReady = await request(`${shifted.url}/ready`);
    expect(notReady.statusCode).toBe(503);
    expect(await notReady.body.json()).toMatchObject({
      error: "unavailable",
      reason: "clock_offset",
    });
    const ready = await request(`${healthy1.url}/ready`);
    expect(ready.statusCode).toBe(200);
    await ready.body.dump();
  });

  it("refuses client writes with 503 unavailable, reason clock_offset, while it still serves reads", async () => {
    const put = await kv(shifted.url, "PUT", "through-shifted", { body: "from the future" });
    expect(put.status).toBe(503);
    expect(errorBody(put)).toMatchObject({ error: "unavailable", reason: "clock_offset" });
    const del = await kv(shifted.url, "DELETE", "through-shifted");
    expect(del.status).toBe(503);
    expect(errorBody(del)).toMatchObject({ reason: "clock_offset" });
    expect((await kv(shifted.url, "GET", "through-shifted")).status).toBe(404);
  });

  it("never overwrites a later write made through a healthy node, which keeps serving", async () => {
    const key = "contested";
    expect((await kv(healthy1.url, "PUT", key, { body: "first" })).status).toBe(204);
    const before = await kv(shifted.url, "PUT", key, { body: "from the future" });
    expect((await kv(healthy2.url, "PUT", key, { body: "later" })).status).toBe(204);
    const after = await kv(shifted.url, "PUT", key, { body: "from the future again" });
    // The promise first (what a client sees), then how it was kept.
    for (const node of [healthy1, healthy2, shifted]) {
      const read = await kv(node.url, "GET", key, { query: "r=quorum" });
      expect(read.status).toBe(200);
      expect(read.body.toString()).toBe("later");
    }
    // And each replica, the shifted one included, holds the healthy write.
    for (const node of [healthy1, healthy2, shifted]) {
      expect(Buffer.from((await localRecord(node, key))?.value ?? []).toString()).toBe("later");
    }
    expect([before.status, after.status]).toEqual([503, 503]);
  });

  it("is refused as a replica's peer: a write stamped an hour ahead is not stored on a healthy replica, and counted", async () => {
    const result = await replicaWrite(
      healthy1,
      "stamped-ahead",
      record(Date.now() * 1000 + HOUR_MS * 1000, "ahead"),
    );
    expect(result).toMatchObject({ error: "clock_offset" });
    expect(await localRecord(healthy1, "stamped-ahead")).toBeUndefined();
    const metrics = (await httpRequest(`${healthy1.url}/metrics`)).text;
    expect(metrics).toMatch(/grapevine_future_records_refused_total\{path="replica"\} [1-9]/);
    expect(metrics).toMatch(/grapevine_clock_in_range 1/);
  });
});

describe("a record stamped decades ahead (issue 14's wedge)", () => {
  it("is refused by every replica, so a later PUT is not acknowledged and then lost", async () => {
    const key = "wedged";
    const results: unknown[] = [];
    for (const node of [healthy1, healthy2, shifted])
      results.push(await replicaWrite(node, key, record(Date.now() * 1000 + DECADES_US, "old")));
    expect((await kv(healthy1.url, "PUT", key, { body: "new" })).status).toBe(204);
    const read = await kv(healthy2.url, "GET", key, { query: "r=all" });
    expect(read.status).toBe(200);
    // Before the fix: "old", on every replica, for the next thirty years, while every PUT answered
    // 204.
    expect(read.body.toString()).toBe("new");
    for (const result of results) expect(result).toMatchObject({ error: "clock_offset" });
  });
});

describe("records stored from the future before the guard (grapevine future-records)", () => {
  it("are listed and restamped on every member, after which a later write wins again", async () => {
    // A node alone (nothing to measure against, so never fenced) writes with its clock two hours
    // ahead, then restarts with a correct clock: its record is now from the future, as one stored
    // before the fix would be.
    const args = ["--replication-factor", "1"];
    await cluster.start({ id: "lone", args, ...shiftedClock("+2h") });
    const key = "stored-ahead";
    expect(
      (await kv(cluster.node("lone").url, "PUT", key, { body: "from the future" })).status,
    ).toBe(204);
    await cluster.signal("lone", "SIGTERM");
    const lone = await cluster.start({ id: "lone", args });

    // The wedge on stored data: the PUT is acknowledged, the GET still answers the old value.
    expect((await kv(lone.url, "PUT", key, { body: "lost" })).status).toBe(204);
    expect((await kv(lone.url, "GET", key)).body.toString()).toBe("from the future");

    const list = await runGrapevine(["future-records", "list", "--node", lone.url]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/lone: 1 records from the future among 1 scanned/);
    expect(list.stdout).toContain(JSON.stringify(key));

    const restamp = await runGrapevine(["future-records", "restamp", "--node", lone.url, "--json"]);
    expect(restamp.code).toBe(0);
    expect(JSON.parse(restamp.stdout)).toMatchObject({
      action: "restamp",
      nodes: [{ node: "lone", restamped: 1, error: null }],
    });
    expect((await kv(lone.url, "GET", key)).body.toString()).toBe("from the future");
    expect((await kv(lone.url, "PUT", key, { body: "new" })).status).toBe(204);
    expect((await kv(lone.url, "GET", key)).body.toString()).toBe("new");
    expect((await runGrapevine(["future-records", "list", "--node", lone.url])).stdout).toMatch(
      /lone: 0 records from the future/,
    );
  });
});
