// Hinted handoff and read repair across real processes (rf 3, 3 nodes: every node is a replica of
// every key). A replica SIGKILLed (and convicted) misses quorum writes; the coordinator keeps hints
// and replays them when it returns, also after the coordinator itself restarted. With hints off the
// returning replica is stale, and a quorum read that sees it repairs it before answering.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeKvPools,
  inParallel,
  kv,
  localRecord,
  startThreeNodes,
  waitForLiveness,
  waitForServing,
} from "../support/kv.js";
import {
  useProcessCluster,
  type ClusterNode,
  type ProcessCluster,
} from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const withHints = useProcessCluster("hints-on");
const withoutHints = useProcessCluster("hints-off");

afterAll(async () => {
  await closeKvPools();
});

async function metric(node: ClusterNode, pattern: RegExp): Promise<number> {
  const text = (await kv(node.url, "GET", "", { rawPath: "/metrics" })).body.toString();
  const match = pattern.exec(text);
  return match === null ? 0 : Number(match[1]);
}

const pendingFor = (peer: string): RegExp =>
  new RegExp(`^grapevine_hints_pending\\{peer="${peer}"\\} (\\d+)$`, "m");

async function writeKeys(node: ClusterNode, prefix: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await inParallel(keys, 8, async (key) => {
    const answer = await kv(node.url, "PUT", key, { body: `value-of-${key}`, query: "w=quorum" });
    expect(answer.status).toBe(204);
  });
  return keys;
}

async function missingOn(node: ClusterNode, keys: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  await inParallel(keys, 16, async (key) => {
    const record = await localRecord(node, key);
    if (record === undefined || Buffer.from(record.value).toString() !== `value-of-${key}`)
      missing.push(key);
  });
  return missing;
}

async function killAndConvict(
  cluster: ProcessCluster,
  victim: string,
  observers: readonly string[],
): Promise<void> {
  await cluster.kill(victim);
  for (const observer of observers) await waitForLiveness(cluster, observer, victim, false);
}

describe("hinted handoff", () => {
  let nodes: ClusterNode[] = [];
  const node = (index: number): ClusterNode => nodes[index] as ClusterNode;

  beforeAll(async () => {
    nodes = await startThreeNodes(withHints);
  });

  it("keeps quorum writes a SIGKILLed replica missed as hints and replays them so it alone holds every key", async () => {
    await killAndConvict(withHints, "node3", ["node1"]);
    const keys = await writeKeys(node(0), "handoff", 200);
    await waitFor(async () => (await metric(node(0), pendingFor("node3"))) === keys.length, {
      timeoutMs: 10_000,
      what: "200 hints pending for node3 on node1",
    });

    const restarted = await withHints.restart("node3");
    await waitFor(async () => (await metric(node(0), pendingFor("node3"))) === 0, {
      timeoutMs: 40_000,
      intervalMs: 250,
      what: "node1's hints for node3 replayed",
    });
    expect(await metric(node(0), /^grapevine_hints_replayed_total (\d+)$/m)).toBeGreaterThanOrEqual(
      keys.length,
    );
    expect(await missingOn(restarted, keys)).toEqual([]);
  });

  it("replays hints held by a coordinator that was SIGKILLed and restarted before the replica returned", async () => {
    await killAndConvict(withHints, "node3", ["node1"]);
    const keys = await writeKeys(node(0), "restarted-coordinator", 100);
    await waitFor(async () => (await metric(node(0), pendingFor("node3"))) === keys.length, {
      timeoutMs: 10_000,
      what: "100 hints pending for node3 on node1",
    });
    await withHints.kill("node1");
    const coordinator = await withHints.restart("node1");
    // Read back from disk at start: the pending gauge is rebuilt before any replay.
    expect(await metric(coordinator, pendingFor("node3"))).toBe(keys.length);

    const replica = await withHints.restart("node3");
    await waitFor(async () => (await missingOn(replica, keys)).length === 0, {
      timeoutMs: 40_000,
      intervalMs: 500,
      what: "node3 to hold every key node1 hinted before its restart",
    });
    await waitFor(async () => (await metric(coordinator, pendingFor("node3"))) === 0, {
      timeoutMs: 10_000,
      what: "node1's hints for node3 deleted",
    });
  });
});

describe("with --hinted-handoff off", () => {
  let nodes: ClusterNode[] = [];
  const node = (index: number): ClusterNode => nodes[index] as ClusterNode;

  beforeAll(async () => {
    nodes = await startThreeNodes(withoutHints, ["--hinted-handoff", "off"]);
  });

  it("stores no hints, and a quorum read that sees the stale replica repairs it before answering", async () => {
    await killAndConvict(withoutHints, "node3", ["node1", "node2"]);
    const keys = await writeKeys(node(0), "repair", 50);
    expect(await metric(node(0), /^grapevine_hints_stored_total (\d+)$/m)).toBe(0);
    expect(await metric(node(0), pendingFor("node3"))).toBe(0);

    const stale = await withoutHints.restart("node3");
    await waitForLiveness(withoutHints, "node1", "node3", true);
    await waitForLiveness(withoutHints, "node3", "node1", true);
    await waitForLiveness(withoutHints, "node3", "node2", true);
    await waitForServing(withoutHints, "node3");
    expect((await missingOn(stale, keys)).length).toBe(keys.length);

    // Coordinated by node3, a quorum read asks node3 itself and one other replica: it always sees
    // the stale copy, and the foreground repair lands before the answer does.
    for (const key of keys) {
      const answer = await kv(stale.url, "GET", key, { query: "r=quorum" });
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toBe(`value-of-${key}`);
      expect(await missingOn(stale, [key])).toEqual([]);
    }
    expect(await metric(stale, /^grapevine_read_repairs_total\{kind="foreground"\} (\d+)$/m)).toBe(
      keys.length,
    );
    expect(await metric(stale, /^grapevine_read_repair_keys_total (\d+)$/m)).toBeGreaterThanOrEqual(
      keys.length,
    );
  });
});
