// Merkle anti-entropy across real processes (rf 3, 3 nodes: every node replicates every range).
// With hints off, a replica that was down while keys were written and deleted is stale; `grapevine
// repair` on it makes it whole, so that it alone answers every key (and every delete) at r=one once
// the other replicas are stopped. A repair of an in-sync cluster moves nothing but root hashes. The
// background service alone converges a stale replica too, within a bound this test prints.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeKvPools,
  inParallel,
  kv,
  localRecord,
  startThreeNodes,
  waitForLiveness,
} from "../support/kv.js";
import {
  runGrapevine,
  useProcessCluster,
  type ClusterNode,
  type ProcessCluster,
} from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";
import type { RepairJobBody } from "../../src/cli/repair.js";

const operator = useProcessCluster("repair-operator");
const background = useProcessCluster("repair-background");

afterAll(async () => {
  await closeKvPools();
});

/** What `grapevine repair --json` prints: the job as GET /admin/repair/:id gives it. */
type RepairJson = RepairJobBody;

async function writeKeys(
  node: ClusterNode,
  keys: readonly string[],
  value: (key: string) => string,
): Promise<void> {
  await inParallel(keys, 16, async (key) => {
    const answer = await kv(node.url, "PUT", key, { body: value(key), query: "w=quorum" });
    expect(answer.status).toBe(204);
  });
}

async function killAndConvict(
  cluster: ProcessCluster,
  victim: string,
  observers: readonly string[],
): Promise<void> {
  await cluster.kill(victim);
  for (const observer of observers) await waitForLiveness(cluster, observer, victim, false);
}

async function repair(node: ClusterNode, extra: readonly string[] = []): Promise<RepairJson> {
  const result = await runGrapevine(["repair", "--node", node.url, "--json", ...extra], {
    timeoutMs: 120_000,
  });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as RepairJson;
}

/** Keys whose copy on `node` is not `expected(key)` (undefined: absent or a tombstone expected). */
async function wrongOn(
  node: ClusterNode,
  keys: readonly string[],
  expected: (key: string) => string | null,
): Promise<string[]> {
  const wrong: string[] = [];
  await inParallel(keys, 16, async (key) => {
    const record = await localRecord(node, key);
    const want = expected(key);
    const ok =
      want === null
        ? record?.tombstone === true
        : record !== undefined &&
          !record.tombstone &&
          Buffer.from(record.value).toString() === want;
    if (!ok) wrong.push(key);
  });
  return wrong;
}

describe("grapevine repair", () => {
  let nodes: ClusterNode[] = [];
  const node = (index: number): ClusterNode => nodes[index] as ClusterNode;
  const before = Array.from({ length: 400 }, (_, i) => `before-${i}`);
  const deleted = before.slice(0, 200);
  const kept = before.slice(200);
  const written = Array.from({ length: 10_000 }, (_, i) => `while-down-${i}`);
  const valueOf = (key: string): string => `value-of-${key}`;

  beforeAll(async () => {
    nodes = await startThreeNodes(operator, [
      "--hinted-handoff",
      "off",
      "--anti-entropy-interval-s",
      "off",
    ]);
  });

  it("makes a replica that missed 10,000 writes and 200 deletes whole, so it alone answers every key at r=one", async () => {
    await writeKeys(node(0), before, valueOf);
    await killAndConvict(operator, "node3", ["node1", "node2"]);
    await writeKeys(node(0), written, valueOf);
    await inParallel(deleted, 16, async (key) => {
      expect((await kv(node(1).url, "DELETE", key, { query: "w=quorum" })).status).toBe(204);
    });

    const stale = await operator.restart("node3");
    for (const [observer, subject] of [
      ["node1", "node3"],
      ["node3", "node1"],
      ["node3", "node2"],
    ] as const) {
      await waitForLiveness(operator, observer, subject, true);
    }
    expect((await wrongOn(stale, written.slice(0, 200), valueOf)).length).toBe(200);

    // A dry run says what would move and moves nothing.
    const dry = await repair(stale, ["--dry-run"]);
    expect(dry.dryRun).toBe(true);
    expect(dry.summary.keysReceived).toBeGreaterThanOrEqual(written.length + deleted.length);
    expect((await wrongOn(stale, written.slice(0, 200), valueOf)).length).toBe(200);

    const job = await repair(stale);
    console.log(`repair of the stale replica: ${JSON.stringify(job.summary)}`);
    expect(job.state).toBe("done");
    // Each missing record comes from one of the two other replicas; the second finds it in sync.
    expect(job.summary.keysReceived).toBeGreaterThanOrEqual(written.length + deleted.length);
    expect(job.summary.keysReceived).toBeLessThan(2 * (written.length + deleted.length));
    expect(job.summary.keysSent).toBe(0);

    // An in-sync cluster: every root matches, nothing moves, a few bytes per range.
    const again = await repair(stale);
    console.log(`repair of the in-sync cluster: ${JSON.stringify(again.summary)}`);
    expect(again.summary.rangesDiffering).toBe(0);
    expect(again.summary.keysSent + again.summary.keysReceived).toBe(0);
    expect(again.summary.bytesSent + again.summary.bytesReceived).toBeLessThan(
      again.summary.rangesCompared * 64,
    );

    // Only node3 left: every key at r=one from it, deletes included.
    await operator.signal("node1", "SIGTERM");
    await operator.signal("node2", "SIGTERM");
    await waitForLiveness(operator, "node3", "node1", false);
    await waitForLiveness(operator, "node3", "node2", false);
    const missing: string[] = [];
    await inParallel([...written, ...kept], 16, async (key) => {
      const answer = await kv(stale.url, "GET", key, { query: "r=one" });
      if (answer.status !== 200 || answer.body.toString() !== valueOf(key)) missing.push(key);
    });
    expect(missing).toEqual([]);
    const resurrected: string[] = [];
    await inParallel(deleted, 16, async (key) => {
      if ((await kv(stale.url, "GET", key, { query: "r=one" })).status !== 404)
        resurrected.push(key);
    });
    expect(resurrected).toEqual([]);
  }, 300_000);

  it("answers 404 with the error body for an unknown repair id", async () => {
    const answer = await kv(node(2).url, "GET", "", { rawPath: "/admin/repair/no-such-job" });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ error: "not_found" });
  });
});

describe("the background anti-entropy service", () => {
  let nodes: ClusterNode[] = [];
  const node = (index: number): ClusterNode => nodes[index] as ClusterNode;
  const INTERVAL_S = 1;
  const VNODES = 4;

  beforeAll(async () => {
    nodes = await startThreeNodes(background, [
      "--hinted-handoff",
      "off",
      "--anti-entropy-interval-s",
      String(INTERVAL_S),
      "--vnodes",
      String(VNODES),
    ]);
  });

  it("converges a replica that missed writes and deletes, with no operator", async () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => `bg-${i}`);
    const deleted = keys.slice(0, 100);
    await writeKeys(node(0), deleted, (key) => `old-${key}`);
    await killAndConvict(background, "node3", ["node1", "node2"]);
    await writeKeys(node(0), keys, (key) => `new-${key}`);
    await inParallel(deleted, 16, async (key) => {
      expect((await kv(node(0).url, "DELETE", key, { query: "w=quorum" })).status).toBe(204);
    });
    const expected = (key: string): string | null => (deleted.includes(key) ? null : `new-${key}`);

    const startedMs = Date.now();
    const stale = await background.restart("node3");
    // Each node repairs one (range, replica) pair per interval; node3 has 3 × 4 ranges, each with
    // two other replicas, and node1 and node2 repair their pairs with node3 too. One full
    // round-robin of node3's own pairs, plus start-up and detection time, bounds convergence.
    const pairs = 3 * VNODES * 2;
    const boundMs = (pairs * INTERVAL_S + 30) * 1000;
    console.log(
      `background convergence bound: ${boundMs / 1000} s (${pairs} pairs at ${INTERVAL_S} s, plus 30 s to start and detect)`,
    );
    await waitFor(async () => (await wrongOn(stale, keys, expected)).length === 0, {
      timeoutMs: boundMs,
      intervalMs: 1_000,
      what: "node3 to hold every key and delete through background repair",
    });
    console.log(
      `background repair converged node3 in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`,
    );
    const metrics = (await kv(stale.url, "GET", "", { rawPath: "/metrics" })).body.toString();
    expect(metrics).toMatch(/^grapevine_repair_sessions_total\{trigger="background"\} [1-9]\d*$/m);
  }, 180_000);
});
