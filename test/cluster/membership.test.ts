// Membership with real `grapevine start` processes on 127.0.0.1, at the default gossip interval and
// phi threshold: those defaults are the promise (SPEC §1), so the kill and stop tests use them.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type {
  ClusterStatusBody,
  MemberStatusBody,
  RingBody,
} from "../../src/api/cluster-routes.js";
import { encodePeerBody, PEER_CONTENT_TYPE } from "../../src/net/codec.js";
import { CLUSTER_SECRET_HEADER } from "../../src/net/auth.js";
import { PEER_BODY_BYTES_MAX, PEER_PATH } from "../../src/net/peer-protocol.js";
import { KNOWN_PEERS_FILE } from "../../src/topology/known-peers.js";
import { httpRequest, rawHttpRequest } from "../support/http.js";
import { useProcessCluster, type ProcessCluster } from "../support/process-cluster.js";
import { sleep, waitFor } from "../support/wait-for.js";

const NODE_IDS = ["node1", "node2", "node3", "node4", "node5"];
/** Generous deadlines: they bound a broken run, they are not the promise being measured. */
const CONVERGENCE_TIMEOUT_MS = 30_000;
const CONVICTION_TIMEOUT_MS = 30_000;
const STOP_DURATION_MS = 4_000;
const WATCH_AFTER_CONTINUE_MS = 8_000;
const POLL_INTERVAL_MS = 250;

const cluster = useProcessCluster("membership");

async function status(on: ProcessCluster, id: string): Promise<ClusterStatusBody> {
  return on.getJson<ClusterStatusBody>(id, "/cluster/status");
}

function memberOf(body: ClusterStatusBody, id: string): MemberStatusBody | undefined {
  return body.members.find((member) => member.id === id);
}

/** True when `id` sees exactly `expected` members, all normal and live. */
async function seesAllNormalAndLive(
  on: ProcessCluster,
  id: string,
  expected: readonly string[],
): Promise<boolean> {
  const body = await status(on, id);
  const ids = body.members.map((member) => member.id).sort();
  return (
    JSON.stringify(ids) === JSON.stringify([...expected].sort()) &&
    body.members.every((member) => member.state === "normal" && member.live)
  );
}

function ringSignature(ring: RingBody): string {
  return ring.tokens.map((entry) => `${entry.token}=${entry.owner}`).join(",");
}

function tokensOwnedBy(ring: RingBody, id: string): string[] {
  return ring.tokens.filter((entry) => entry.owner === id).map((entry) => entry.token);
}

async function startFiveNodes(): Promise<void> {
  const seed = await cluster.start({ id: "node1" });
  await cluster.startAll(NODE_IDS.slice(1).map((id) => ({ id, seeds: [seed.address] })));
}

describe("membership across real processes", () => {
  it("5 nodes joining through one seed all report 5 normal live members and the same ring", async () => {
    await startFiveNodes();
    await waitFor(
      async () =>
        (
          await Promise.all(NODE_IDS.map((id) => seesAllNormalAndLive(cluster, id, NODE_IDS)))
        ).every(Boolean),
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: "every node to see 5 normal live members",
      },
    );
    const rings = await waitFor(
      async () => {
        const all = await Promise.all(
          NODE_IDS.map((id) => cluster.getJson<RingBody>(id, "/cluster/ring")),
        );
        return new Set(all.map(ringSignature)).size === 1 ? all : null;
      },
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: "every node to report the same ring",
      },
    );
    const ring = rings[0];
    expect(ring?.tokens).toHaveLength(5 * 16);
    expect(new Set(ring?.tokens.map((entry) => entry.owner))).toEqual(new Set(NODE_IDS));
  });

  it("every survivor convicts a SIGKILLed node, and it returns with the same id and tokens on restart", async () => {
    const victim = "node5";
    const survivors = NODE_IDS.filter((id) => id !== victim);
    const ringBefore = await cluster.getJson<RingBody>("node1", "/cluster/ring");
    const tokensBefore = tokensOwnedBy(ringBefore, victim);
    const generationBefore = memberOf(await status(cluster, "node1"), victim)?.generation;
    expect(tokensBefore).toHaveLength(16);
    expect(generationBefore).toBeTypeOf("number");

    const killedAt = Date.now();
    await cluster.kill(victim);
    await waitFor(
      async () => {
        const views = await Promise.all(survivors.map((id) => status(cluster, id)));
        return views.every((view) => memberOf(view, victim)?.live === false);
      },
      {
        timeoutMs: CONVICTION_TIMEOUT_MS,
        intervalMs: 100,
        what: `every survivor to report ${victim} not live`,
      },
    );
    console.log(`convicted by all survivors in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    // Conviction is not removal: the dead member keeps its place in the ring until an operator
    // acts.
    for (const id of survivors) {
      expect(tokensOwnedBy(await cluster.getJson<RingBody>(id, "/cluster/ring"), victim)).toEqual(
        tokensBefore,
      );
    }

    const restarted = await cluster.restart(victim);
    await waitFor(
      async () => {
        const views = await Promise.all(NODE_IDS.map((id) => status(cluster, id)));
        return views.every((view) => {
          const member = memberOf(view, victim);
          return (
            view.members.length === 5 &&
            member !== undefined &&
            member.live &&
            member.generation > (generationBefore ?? Number.POSITIVE_INFINITY)
          );
        });
      },
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: `${victim} to be live everywhere with a new generation`,
      },
    );
    expect((await status(cluster, victim)).node).toBe(victim);
    expect(restarted.dataDir).toBe(cluster.dataDir(victim));
    for (const id of NODE_IDS) {
      expect(tokensOwnedBy(await cluster.getJson<RingBody>(id, "/cluster/ring"), victim)).toEqual(
        tokensBefore,
      );
    }
  });

  it("the seed, SIGKILLed and restarted, serves clients only once every member it knew is back in its ring", async () => {
    // node1 has no seeds: before peers.json it served at once after a restart, from a ring of
    // itself.
    const seed = "node1";
    const others = NODE_IDS.filter((id) => id !== seed);
    const known = JSON.parse(
      await readFile(path.join(cluster.dataDir(seed), KNOWN_PEERS_FILE), "utf8"),
    ) as { peers: string[] };
    expect(known.peers).toEqual(others);

    await cluster.kill(seed);
    // restart() returns at the first /cluster/status that says serving
    // (ProcessCluster.waitServing).
    await cluster.restart(seed);
    const view = await status(cluster, seed);
    expect(view.serving).toBe(true);
    expect(view.members.map((member) => member.id).sort()).toEqual(NODE_IDS);
    expect(view.members.every((member) => member.tokens === 16)).toBe(true);
    const ring = await cluster.getJson<RingBody>(seed, "/cluster/ring");
    expect(new Set(ring.tokens.map((entry) => entry.owner))).toEqual(new Set(NODE_IDS));

    await waitFor(
      async () =>
        (
          await Promise.all(NODE_IDS.map((id) => seesAllNormalAndLive(cluster, id, NODE_IDS)))
        ).every(Boolean),
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: "every node to see 5 normal live members again",
      },
    );
  });

  it(`nobody reports a node down that was SIGSTOPped for ${STOP_DURATION_MS / 1000} s and then continued`, async () => {
    const victim = "node3";
    const survivors = NODE_IDS.filter((id) => id !== victim);
    await waitFor(
      async () =>
        (
          await Promise.all(NODE_IDS.map((id) => seesAllNormalAndLive(cluster, id, NODE_IDS)))
        ).every(Boolean),
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: "a settled cluster before the stop",
      },
    );
    const downReports: string[] = [];
    let polls = 0;
    const watch = async (untilMs: number): Promise<void> => {
      while (Date.now() < untilMs) {
        const views = await Promise.all(
          survivors.map(async (id) => ({ id, view: await status(cluster, id) })),
        );
        polls++;
        for (const { id, view } of views) {
          if (memberOf(view, victim)?.live !== true) downReports.push(`${id} at poll ${polls}`);
        }
        await sleep(POLL_INTERVAL_MS);
      }
    };

    await cluster.pause(victim);
    const continueAt = Date.now() + STOP_DURATION_MS;
    try {
      await watch(continueAt);
    } finally {
      await cluster.resume(victim);
    }
    await watch(Date.now() + WATCH_AFTER_CONTINUE_MS);
    expect(polls).toBeGreaterThan(10);
    expect(downReports).toEqual([]);
    expect(await seesAllNormalAndLive(cluster, victim, NODE_IDS)).toBe(true);
  });

  it("answers bad gossip bodies with 4xx JSON errors and serves on", async () => {
    const url = `${cluster.node("node1").url}${PEER_PATH}`;
    const cases: { name: string; contentType: string; body: Buffer }[] = [
      {
        name: "not msgpack",
        contentType: PEER_CONTENT_TYPE,
        body: Buffer.from("definitely not msgpack"),
      },
      {
        name: "wrong content type",
        contentType: "application/json",
        body: Buffer.from('{"kind":"heartbeat"}'),
      },
      {
        name: "msgpack of the wrong shape",
        contentType: PEER_CONTENT_TYPE,
        body: encodePeerBody({ kind: "syn", digests: "all" }),
      },
      { name: "msgpack array", contentType: PEER_CONTENT_TYPE, body: encodePeerBody([1, 2, 3]) },
      {
        name: "heartbeat with bad fields",
        contentType: PEER_CONTENT_TYPE,
        body: encodePeerBody({ kind: "heartbeat", from: "" }),
      },
      { name: "empty", contentType: PEER_CONTENT_TYPE, body: Buffer.alloc(0) },
    ];
    for (const testCase of cases) {
      const answer = await httpRequest(url, {
        method: "POST",
        headers: { "content-type": testCase.contentType },
        body: testCase.body,
        timeoutMs: 10_000,
      });
      expect(answer.status, testCase.name).toBeGreaterThanOrEqual(400);
      expect(answer.status, testCase.name).toBeLessThan(500);
      expect(answer.contentType, testCase.name).toMatch(/^application\/json/);
      expect(JSON.parse(answer.text), testCase.name).toMatchObject({
        error: expect.any(String),
        message: expect.any(String),
      });
    }
    // Oversized: refused on its Content-Length before the body is read, so it goes over a bare
    // socket (an HTTP client would fail writing the rest of the body once the node has answered and
    // closed).
    const oversized = await rawHttpRequest({
      port: cluster.node("node1").port,
      head: [
        `POST ${PEER_PATH} HTTP/1.1`,
        `Host: ${cluster.node("node1").address}`,
        `Content-Type: ${PEER_CONTENT_TYPE}`,
        `Content-Length: ${PEER_BODY_BYTES_MAX + 1}`,
        "Connection: close",
      ].join("\n"),
      body: Buffer.alloc(64 * 1024, 0x90),
      timeoutMs: 10_000,
    });
    expect(oversized.status).toBeGreaterThanOrEqual(400);
    expect(oversized.status).toBeLessThan(500);
    expect(JSON.parse(oversized.text)).toMatchObject({ error: expect.any(String) });

    expect(await cluster.getJson("node1", "/health")).toEqual({ status: "ok" });
    await waitFor(() => seesAllNormalAndLive(cluster, "node1", NODE_IDS), {
      timeoutMs: CONVERGENCE_TIMEOUT_MS,
      what: "node1 to still see 5 normal live members",
    });
  });
});

describe("cluster secret", () => {
  const secured = useProcessCluster("secret");
  const secret = "correct horse battery staple";
  const ids = ["secure1", "secure2", "secure3"];

  it("nodes with the same secret form a cluster, and a peer call without it or with a wrong one gets 401", async () => {
    const args = ["--cluster-secret", secret];
    const seed = await secured.start({ id: "secure1", args });
    await secured.startAll(ids.slice(1).map((id) => ({ id, seeds: [seed.address], args })));
    await waitFor(
      async () =>
        (await Promise.all(ids.map((id) => seesAllNormalAndLive(secured, id, ids)))).every(Boolean),
      {
        timeoutMs: CONVERGENCE_TIMEOUT_MS,
        intervalMs: 200,
        what: "3 secured nodes to see each other",
      },
    );

    const url = `${seed.url}${PEER_PATH}`;
    const body = encodePeerBody({
      kind: "heartbeat",
      from: "outsider",
      generation: 1,
      incarnation: 0,
      sequence: 1,
    });
    const headers = { "content-type": PEER_CONTENT_TYPE };
    for (const [name, extra] of [
      ["no secret", {}],
      ["wrong secret", { [CLUSTER_SECRET_HEADER]: "wrong" }],
    ] as const) {
      const answer = await httpRequest(url, {
        method: "POST",
        headers: { ...headers, ...extra },
        body,
      });
      expect(answer.status, name).toBe(401);
      expect(JSON.parse(answer.text), name).toMatchObject({ error: "unauthorized" });
    }
    // The same message with the secret is accepted: it was the secret that was refused.
    const accepted = await httpRequest(url, {
      method: "POST",
      headers: { ...headers, [CLUSTER_SECRET_HEADER]: secret },
      body,
    });
    expect(accepted.status).toBe(204);
    // Client and admin routes are not node-to-node routes and need no secret.
    expect((await httpRequest(`${seed.url}/health`)).status).toBe(200);
  });
});
