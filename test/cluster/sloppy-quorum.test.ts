// The sloppy quorum (issue 16 §4) across real processes: 5 nodes, rf 3. With 2 of a key's 3
// replicas SIGKILLed, strict writes (pw = w, the default) are refused with 503, while `w=2&pw=0`
// writes succeed through fallbacks: the next live nodes past the replica set, which hold the write
// for the down primary. Reads at `pr=0` consult those fallback copies. Once the primaries are back,
// every fallback copy is handed off and dropped (fallback bytes return to 0), each primary holds
// every key, a quorum read answers them, and `grapevine repair` finds nothing to move. Hinted
// handoff and background anti-entropy are off, so the fallbacks alone bring the writes home.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterStatusBody, RingBody } from "../../src/api/cluster-routes.js";
import type { RepairJobBody } from "../../src/cli/repair.js";
import { tokenFromString, tokenOf } from "../../src/ring/partitioner.js";
import { rangeContains } from "../../src/ring/token-map.js";
import {
  closeKvPools,
  errorBody,
  errorCode,
  inParallel,
  kv,
  localRecord,
  waitForLiveness,
  startNodes,
  waitForServing,
} from "../support/kv.js";
import { runGrapevine, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("sloppy-quorum");
const IDS = ["node1", "node2", "node3", "node4", "node5"];
/** The two replicas killed; node1..node3 stay up and coordinate. */
const VICTIMS = ["node4", "node5"];
const KEYS_WANTED = 60;
const ARGS = ["--hinted-handoff", "off", "--anti-entropy-interval-s", "off"];

afterAll(async () => {
  await closeKvPools();
});

const valueOf = (key: string): string => `sloppy value of ${key}`;

async function startFive(): Promise<void> {
  await startNodes(cluster, IDS, ARGS, 60_000);
}

/** Keys whose replicas include both victims, by the ring node1 serves. */
async function keysOnBothVictims(): Promise<string[]> {
  const ring = await cluster.getJson<RingBody>("node1", "/cluster/ring");
  const keys: string[] = [];
  for (let i = 0; keys.length < KEYS_WANTED && i < 100_000; i++) {
    const key = `sloppy-${i}`;
    const token = tokenOf(key);
    const range = ring.ranges.find((candidate) =>
      rangeContains(
        { start: tokenFromString(candidate.start), end: tokenFromString(candidate.end) },
        token,
      ),
    );
    const replicas = range?.replicas ?? [];
    if (VICTIMS.every((victim) => replicas.includes(victim))) keys.push(key);
  }
  expect(keys.length).toBe(KEYS_WANTED);
  return keys;
}

/** Fallback bytes held over the nodes named, from their `/cluster/status`. */
async function fallbackBytes(ids: readonly string[]): Promise<number> {
  let total = 0;
  for (const id of ids) {
    const status = await cluster.getJson<ClusterStatusBody>(id, "/cluster/status");
    total += status.fallbacks?.bytes ?? 0;
  }
  return total;
}

async function repair(node: ClusterNode): Promise<RepairJobBody> {
  const result = await runGrapevine(["repair", "--node", node.url, "--json"], {
    timeoutMs: 120_000,
  });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as RepairJobBody;
}

describe("sloppy quorum, 5 nodes, 2 of a key's 3 replicas killed", () => {
  let keys: string[] = [];

  beforeAll(async () => {
    await startFive();
    keys = await keysOnBothVictims();
  }, 120_000);

  it("refuses strict writes with 503, takes pw=0 writes through fallbacks, and hands them all off", async () => {
    const coordinators = IDS.filter((id) => !VICTIMS.includes(id));
    for (const victim of VICTIMS) {
      await cluster.kill(victim);
      for (const observer of coordinators) await waitForLiveness(cluster, observer, victim, false);
    }
    const coordinatorOf = (index: number): ClusterNode =>
      cluster.node(coordinators[index % coordinators.length] as string);

    // Strict (the default pw = w): one live primary cannot give two primary acknowledgements.
    const strict = await kv(coordinatorOf(0).url, "PUT", keys[0] as string, {
      body: "strict",
      query: "w=2",
    });
    expect(strict.status).toBe(503);
    expect(errorCode(strict)).toBe("unavailable");
    // pw above w is the client's mistake.
    const bad = await kv(coordinatorOf(0).url, "PUT", keys[0] as string, {
      body: "bad",
      query: "w=1&pw=2",
    });
    expect(bad.status).toBe(400);
    expect(errorCode(bad)).toBe("bad_consistency");
    expect(String(errorBody(bad)["message"])).toContain("pw");

    // Sloppy: the fallbacks' acknowledgements count toward w.
    await inParallel(
      keys.map((key, index) => ({ key, index })),
      8,
      async ({ key, index }) => {
        const answer = await kv(coordinatorOf(index).url, "PUT", key, {
          body: valueOf(key),
          query: "w=2&pw=0",
        });
        expect(answer.status).toBe(204);
      },
    );
    const held = await fallbackBytes(coordinators);
    console.log(`fallback bytes held while node4 and node5 are down: ${held}`);
    expect(held).toBeGreaterThan(0);
    const metrics = (await kv(coordinatorOf(0).url, "GET", "", { rawPath: "/metrics" })).body;
    expect(metrics.toString()).toMatch(/^grapevine_fallback_bytes \d+$/m);

    // Reads at pr=0 consult the fallback copies: one live primary plus fallbacks make r=2.
    for (const key of keys.slice(0, 10)) {
      const answer = await kv(coordinatorOf(1).url, "GET", key, { query: "r=2&pr=0" });
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toBe(valueOf(key));
    }
    // A strict quorum read cannot be served by one primary.
    const strictRead = await kv(coordinatorOf(1).url, "GET", keys[0] as string, {
      query: "r=2",
    });
    expect(strictRead.status).toBe(503);

    // The primaries come back: every fallback copy is handed off, then dropped.
    const startedMs = Date.now();
    for (const victim of VICTIMS) await cluster.restart(victim);
    for (const victim of VICTIMS) await waitForServing(cluster, victim);
    await waitFor(async () => (await fallbackBytes(IDS)) === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: "every fallback copy handed off and dropped",
    });
    console.log(
      `fallback copies handed off within ${(Date.now() - startedMs) / 1000} s of the restarts`,
    );

    // Each returning primary holds every key itself (nothing read-repaired yet).
    for (const victim of VICTIMS) {
      const wrong: string[] = [];
      await inParallel(keys, 16, async (key) => {
        const record = await localRecord(cluster.node(victim), key);
        if (record === undefined || Buffer.from(record.value).toString() !== valueOf(key))
          wrong.push(key);
      });
      expect(wrong).toEqual([]);
    }

    // A quorum read answers every key; repair finds nothing to move.
    for (const key of keys) {
      const answer = await kv(cluster.node("node4").url, "GET", key, { query: "r=quorum" });
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toBe(valueOf(key));
    }
    for (const victim of VICTIMS) {
      const job = await repair(cluster.node(victim));
      console.log(`repair on ${victim} after the hand-off: ${JSON.stringify(job.summary)}`);
      expect(job.state).toBe("done");
      expect(job.summary.keysSent + job.summary.keysReceived).toBe(0);
    }
  }, 300_000);
});
