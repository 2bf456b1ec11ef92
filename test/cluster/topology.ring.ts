// Ring changes across real processes (issue 5): a 3-node cluster holding 20,000 keys grows to 5
// nodes by bootstrap, shrinks by a decommission, loses a SIGKILLed node for good and removes it,
// and a bootstrap whose stream source is killed mid-stream resumes from another replica. Each
// change runs under a client load recorded by the history checker (test/support/history): no
// acknowledged write is lost, no quorum read goes back in time; every preloaded key stays readable
// at quorum during the change and is read back after it; ownership stays within ±15% of even; and
// once cleanup has run, the keys stored over all nodes are exactly replication-factor × the keys
// that exist.
//
// The stages share one cluster and run in order; each prints its seed.

import { afterAll, describe, expect, it } from "vitest";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { closeKvPools, inParallel, kv, startThreeNodes } from "../support/kv.js";
import { runGrapevine, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";
import { HistoryRecorder, startWorkload, type Workload } from "../support/history/recorder.js";
import { sleep, waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("topology");

const PRELOADED_KEYS = 20_000;
const LOAD_CONCURRENCY = 32;
const REPLICATION_FACTOR = 3;
const STAGE_TIMEOUT_MS = 300_000;
const CHANGE_TIMEOUT_MS = 120_000;
const SEED = Number(process.env["TOPOLOGY_SEED"] ?? Date.now() % 1_000_000);

const preloaded = Array.from({ length: PRELOADED_KEYS }, (_, index) => `pre-${index}`);
/** Ids of the nodes that are members now (in the ring or joining). */
let members: string[] = [];
/**
 * Every key any stage's load wrote to (whatever the outcome): with the preloaded ones, all keys
 * that may exist.
 */
const workloadKeys = new Set<string>();

afterAll(async () => {
  await closeKvPools();
});

function node(id: string): ClusterNode {
  return cluster.node(id);
}

async function status(id: string): Promise<ClusterStatusBody> {
  return cluster.getJson<ClusterStatusBody>(id, "/cluster/status");
}

/** Every member in `ids` sees exactly `ids` as normal live members. */
async function waitForMembers(ids: readonly string[]): Promise<void> {
  const expected = JSON.stringify([...ids].sort());
  await waitFor(
    async () => {
      const views = await Promise.all(ids.map((id) => status(id)));
      return views.every((view) => {
        const present = view.members.filter((member) => member.state !== "left");
        return (
          JSON.stringify(present.map((member) => member.id).sort()) === expected &&
          present.every((member) => member.state === "normal" && member.live)
        );
      });
    },
    {
      timeoutMs: CHANGE_TIMEOUT_MS,
      intervalMs: 250,
      what: `every node to see exactly ${expected} as normal and live`,
    },
  );
}

async function storageKeys(id: string): Promise<number> {
  const text = (await kv(node(id).url, "GET", "", { rawPath: "/metrics" })).body.toString();
  const match = /^grapevine_storage_keys (\d+)$/m.exec(text);
  if (match === null) throw new Error(`${id} has no grapevine_storage_keys metric`);
  return Number(match[1]);
}

/** Reads keys at quorum through the given nodes; returns the keys that did not come back. */
async function unreadable(keys: readonly string[], through: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  let turn = 0;
  await inParallel(keys, LOAD_CONCURRENCY, async (key) => {
    const via = through[turn++ % through.length] as string;
    const answer = await kv(node(via).url, "GET", key, { query: "r=quorum" });
    if (answer.status !== 200 || answer.body.toString() !== `value-of-${key}`) missing.push(key);
  });
  return missing;
}

/** Every normal member's ownership is within ±15% of an even share. */
async function expectOwnershipEven(via: string): Promise<void> {
  const view = await status(via);
  const owners = view.members.filter((member) => member.state === "normal");
  const even = 1 / owners.length;
  for (const member of owners) {
    expect(
      Math.abs(member.ownership - even) / even,
      `${member.id} owns ${member.ownership}`,
    ).toBeLessThanOrEqual(0.15);
  }
}

/**
 * A reader that keeps reading random preloaded keys at quorum through `through()` while a change
 * runs, counting reads that do not return the preloaded value.
 */
function startPreloadedReader(
  through: () => readonly string[],
  seed: number,
): { stop(): Promise<{ reads: number; failures: string[] }> } {
  let stopped = false;
  let reads = 0;
  const failures: string[] = [];
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const loops = Array.from({ length: 2 }, async () => {
    while (!stopped) {
      const nodes = through();
      const via = nodes[next() % nodes.length] as string;
      const key = preloaded[next() % preloaded.length] as string;
      try {
        const answer = await kv(node(via).url, "GET", key, { query: "r=quorum" });
        reads++;
        if (answer.status !== 200 || answer.body.toString() !== `value-of-${key}`)
          failures.push(`${key} via ${via}: ${answer.status}`);
      } catch (error) {
        failures.push(
          `${key} via ${via}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      await sleep(5);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { reads, failures };
    },
  };
}

interface Stage {
  readonly recorder: HistoryRecorder;
  readonly load: Workload;
  readonly reader: ReturnType<typeof startPreloadedReader>;
}

/** Starts the recorded client load and the preloaded-key reader, both through `through()`. */
function startStage(name: string, through: () => readonly string[]): Stage {
  const seed = SEED + name.length;
  console.log(`[topology ${name}] seed ${seed} (TOPOLOGY_SEED=${SEED})`);
  const recorder = new HistoryRecorder(`topology-${name}`);
  const nodes = (): ClusterNode[] => through().map(node);
  const load = startWorkload(recorder, {
    workers: [0, 1, 2, 3].map((index) => ({ name: `w${index}`, nodes })),
    keys: 300,
    keyPrefix: name,
    seed,
  });
  return { recorder, load, reader: startPreloadedReader(through, seed) };
}

/**
 * Stops the load and checks the stage: the history (no lost acknowledged write, no stale read), the
 * preloaded keys (readable at quorum throughout and afterwards), ownership, and — after cleanup —
 * replication-factor copies of every key over the members.
 */
async function finishStage(stage: Stage, ids: readonly string[]): Promise<void> {
  await stage.load.stop();
  const reading = await stage.reader.stop();
  expect(reading.reads).toBeGreaterThan(0);
  expect(reading.failures, "preloaded keys unreadable at quorum during the change").toEqual([]);

  await stage.recorder.finish({ nodes: ids.map(node) });
  const result = stage.recorder.check({ replicationFactor: REPLICATION_FACTOR });
  expect(result.violations).toEqual([]);

  expect(await unreadable(preloaded, ids)).toEqual([]);

  // Keys that exist: the preloaded ones and the keys of every stage's load that a read at `all`
  // finds.
  for (const key of stage.recorder.writtenKeys()) workloadKeys.add(key);
  let existing = PRELOADED_KEYS;
  await inParallel([...workloadKeys], LOAD_CONCURRENCY, async (key) => {
    const answer = await kv(node(ids[0] as string).url, "GET", key, { query: "r=all" });
    if (answer.status === 200) existing++;
  });
  const counts = await waitFor(
    async () => {
      const perNode = await Promise.all(
        ids.map(async (id) => [id, await storageKeys(id)] as const),
      );
      const total = perNode.reduce((sum, [, count]) => sum + count, 0);
      return total === REPLICATION_FACTOR * existing ? perNode : null;
    },
    {
      timeoutMs: CHANGE_TIMEOUT_MS,
      intervalMs: 1_000,
      what: `the nodes to hold ${REPLICATION_FACTOR} × ${existing} keys after cleanup`,
    },
  );
  console.log(
    `[topology] keys per node after cleanup: ${counts.map(([id, count]) => `${id}=${count}`).join(" ")}`,
  );
  await expectOwnershipEven(ids[0] as string);
}

async function startJoiner(id: string, args: readonly string[] = []): Promise<void> {
  await cluster.start({
    id,
    seeds: [node("node1").address],
    args: ["--replication-factor", String(REPLICATION_FACTOR), ...args],
  });
}

describe("ring changes under load", () => {
  it("a 3-node cluster takes 20,000 keys", { timeout: STAGE_TIMEOUT_MS }, async () => {
    await startThreeNodes(cluster);
    members = ["node1", "node2", "node3"];
    let turn = 0;
    const refused: string[] = [];
    await inParallel(preloaded, LOAD_CONCURRENCY, async (key) => {
      const via = members[turn++ % members.length] as string;
      const answer = await kv(node(via).url, "PUT", key, {
        query: "w=quorum",
        body: `value-of-${key}`,
        contentType: "text/plain",
      });
      if (answer.status !== 204) refused.push(`${key}: ${answer.status}`);
    });
    expect(refused).toEqual([]);
    await expectOwnershipEven("node1");
  });

  it(
    "bootstraps a 4th and a 5th node under load without losing a write",
    { timeout: STAGE_TIMEOUT_MS },
    async () => {
      const stage = startStage("grow", () => ["node1", "node2", "node3"]);
      for (const id of ["node4", "node5"]) {
        await startJoiner(id);
        members = [...members, id];
        await waitForMembers(members);
        const change = (await status(id)).change;
        expect(change?.state).toBe("done");
        expect(change?.keys).toBeGreaterThan(0);
      }
      await finishStage(stage, members);
    },
  );

  it(
    "decommissions a node under load: it streams its ranges away, leaves and exits 0",
    { timeout: STAGE_TIMEOUT_MS },
    async () => {
      // The last node to join: a leaving node's ranges go back to the members its tokens split when
      // it joined (they follow its tokens on the ring), so the shares it took return where they
      // came from. An earlier member's ranges go to whoever follows its tokens now;
      // bench/ownership.ts measures that spread.
      const leaver = "node5";
      const stayers = members.filter((id) => id !== leaver);
      const stage = startStage("decommission", () => stayers);
      const cli = await runGrapevine(["decommission", "--node", node(leaver).url], {
        timeoutMs: CHANGE_TIMEOUT_MS,
      });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`${leaver} left the ring`);
      expect(cli.stderr).toMatch(/decommission node5: \d+\/\d+ streams done/);
      expect(await node(leaver).exited).toEqual({ code: 0, signal: null });
      members = stayers;
      await waitForMembers(members);
      await finishStage(stage, members);
    },
  );

  it("refuses a removenode of a live member or an unknown id, naming the problem", async () => {
    const live = await runGrapevine(["removenode", "node4", "--node", node("node1").url]);
    expect(live.code).toBe(1);
    expect(live.stderr).toMatch(/node4 is live/);
    const unknown = await runGrapevine(["removenode", "nobody", "--node", node("node1").url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no member nobody/);
  });

  it(
    "removes a SIGKILLed node: the survivors re-replicate its ranges and it disappears from every status",
    { timeout: STAGE_TIMEOUT_MS },
    async () => {
      const victim = "node4";
      const survivors = members.filter((id) => id !== victim);
      const stage = startStage("removenode", () => survivors);
      await cluster.kill(victim);
      await waitFor(
        async () =>
          (await Promise.all(survivors.map(status))).every(
            (view) => view.members.find((member) => member.id === victim)?.live === false,
          ),
        { timeoutMs: 60_000, intervalMs: 250, what: `every survivor to see ${victim} down` },
      );
      const cli = await runGrapevine(["removenode", victim, "--node", node("node1").url], {
        timeoutMs: CHANGE_TIMEOUT_MS,
      });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`${victim} removed`);
      members = survivors;
      await waitForMembers(members);
      for (const view of await Promise.all(survivors.map(status))) {
        expect(view.members.map((member) => member.id)).not.toContain(victim);
      }
      await finishStage(stage, members);
    },
  );

  it(
    "resumes a bootstrap from another replica when its stream source is killed mid-stream",
    { timeout: STAGE_TIMEOUT_MS },
    async () => {
      const joiner = "node6";
      // Slow streaming (about a minute for its share; pages of about a second, so a range takes a
      // few) so that the source can be killed in the middle of a range.
      await startJoiner(joiner, ["--stream-bytes-per-s", "20000", "--streams-max", "1"]);
      const source = await waitFor(
        async () => {
          const streaming = (await status(joiner)).streams?.find(
            (stream) => stream.state === "streaming" && stream.keys > 0 && stream.progress < 1,
          );
          return streaming?.source ?? null;
        },
        { timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 50, what: `${joiner} to be streaming a range` },
      );
      console.log(`[topology resume] killing the stream source ${source}`);
      await cluster.kill(source);
      const survivors = members.filter((id) => id !== source);
      // One ring change at a time: a decommission or removenode meanwhile is refused, naming the
      // join.
      const refused = await fetch(`${node(survivors[0] as string).url}/admin/decommission`, {
        method: "POST",
      });
      expect(refused.status).toBe(409);
      const body = (await refused.json()) as { error: string; message: string };
      expect(body.error).toBe("ring_change_in_progress");
      expect(body.message).toContain(`${joiner} is joining`);
      // The progress view: `grapevine status` on the joiner shows its ring change and running
      // stream.
      const shown = await runGrapevine(["status", "--node", node(joiner).url]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain(`Ring change on ${joiner}: bootstrap ${joiner}, running`);
      expect(shown.stdout).toMatch(/stream \d+ \S+ -> node6: (streaming|retrying)/);
      const done = await waitFor(
        async () => {
          const view = await status(joiner);
          return view.change?.state === "done" || view.change?.state === "failed" ? view : null;
        },
        { timeoutMs: CHANGE_TIMEOUT_MS * 2, intervalMs: 500, what: `${joiner} to finish joining` },
      );
      expect(done.change?.state, done.change?.error ?? "").toBe("done");
      const moved = (done.streams ?? []).filter(
        (stream) => stream.change === `bootstrap ${joiner}` && stream.sourceChanges > 0,
      );
      expect(moved.length).toBeGreaterThan(0);
      expect(
        (done.streams ?? []).every(
          (stream) => stream.change !== `bootstrap ${joiner}` || stream.state === "done",
        ),
      ).toBe(true);
      // With the killed source down, every key still has a quorum among its replicas, node6
      // included.
      expect(await unreadable(preloaded, [...survivors, joiner])).toEqual([]);
    },
  );
});
