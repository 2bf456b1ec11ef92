// Issue 18 §3 and §5 (sender identity) with real processes: three nodes served over mTLS
// (--certs-dir made by the real `grapevine cert`) authenticate every client and operator request.
// The first admin token is made with a node's own certs dir; tokens of each role are made and
// revoked with the CLI (the revocation is seen by another node within seconds, by gossip); client
// certificates carry their role; a node's certificate is not a client's; a node message whose
// `from` is not its certificate's node is refused.

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { Grapevine } from "../../src/client/index.js";
import { encodePeerBody } from "../../src/net/codec.js";
import { freePorts } from "../support/ports.js";
import { runGrapevine, useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("auth");
const IDS = ["a1", "a2", "a3"] as const;
/** How soon a revocation made on one node must be honoured by another (gossip spreads it). */
const REVOCATION_SPREAD_MS_MAX = 10_000;

interface Tls {
  ca: string;
  cert?: string;
  key?: string;
}

interface Answer {
  status: number;
  json: { error?: string } | null;
}

async function cli(
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const result = await runGrapevine(args, { timeoutMs: 30_000 });
  return { code: result.code, out: result.stdout, err: result.stderr };
}

async function call(
  url: string,
  tls: Tls,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const agent = new Agent({ connect: tls });
  try {
    const response = await request(url, {
      method: (options.method ?? "GET") as "GET",
      dispatcher: agent,
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const text = await response.body.text();
    let json: Answer["json"] = null;
    try {
      json = JSON.parse(text) as Answer["json"];
    } catch {
      // a value, not an error body
    }
    return { status: response.statusCode, json };
  } finally {
    await agent.close();
  }
}

/** A well-formed heartbeat of a long-gone generation: harmless, whoever it names. */
const heartbeatFrom = (from: string) => ({
  kind: "heartbeat",
  from,
  generation: 0,
  incarnation: 0,
  sequence: 0,
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authenticated clients and operators (issue 18 §3, §5)", () => {
  const dir = (name: string) => path.join(cluster.dir, name);
  const nodeCerts = (id: string) => dir(`certs-${id}`);
  const caKey = () => path.join(dir("safe"), "ca.key");
  /** ca.crt only: the CLI authenticates by its token. */
  const caOnly = () => dir("ca-only");
  let ports: number[] = [];
  let ca = "";
  const url = (index: number) => `https://127.0.0.1:${ports[index]}`;
  const tokens: Record<string, string> = {};
  const tokenFile = (role: string) => path.join(cluster.dir, `${role}.token`);
  const clientCert = (name: string): Tls => ({
    ca,
    cert: readFileSync(path.join(dir("clients"), `client.${name}.crt`), "utf8"),
    key: readFileSync(path.join(dir("clients"), `client.${name}.key`), "utf8"),
  });
  const asNode = (id: string): Tls => ({
    ca,
    cert: readFileSync(path.join(nodeCerts(id), "node.crt"), "utf8"),
    key: readFileSync(path.join(nodeCerts(id), "node.key"), "utf8"),
  });

  it("three TLS nodes; the first admin token made with a node's certs dir", async () => {
    const withCa = ["--ca-key", caKey()];
    expect((await cli(["cert", "create-ca", "--certs-dir", caOnly(), ...withCa])).code).toBe(0);
    ca = readFileSync(path.join(caOnly(), "ca.crt"), "utf8");
    mkdirSync(dir("clients"));
    copyFileSync(path.join(caOnly(), "ca.crt"), path.join(dir("clients"), "ca.crt"));
    const clients = (
      [
        ["ro", "reader"],
        ["rw", "writer"],
      ] as const
    ).map(([name, role]) =>
      cli([
        ...["cert", "create-client", name, "--role", role, "--certs-dir", dir("clients")],
        ...withCa,
      ]),
    );
    const nodes = IDS.map((id) => {
      mkdirSync(nodeCerts(id));
      copyFileSync(path.join(caOnly(), "ca.crt"), path.join(nodeCerts(id), "ca.crt"));
      return cli([
        ...["cert", "create-node", "--id", id, "--host", "127.0.0.1,localhost"],
        ...["--certs-dir", nodeCerts(id), ...withCa],
      ]);
    });
    for (const made of await Promise.all([...clients, ...nodes]))
      expect(made.code, made.err).toBe(0);
    ports = await freePorts(3);
    const seed = `127.0.0.1:${ports[0]}`;
    await Promise.all(
      IDS.map((id, index) =>
        cluster.start(
          { id, port: ports[index], seeds: [seed], args: ["--certs-dir", nodeCerts(id)] },
          { waitServing: false },
        ),
      ),
    );
    // A node's own certs dir reads the cluster's state (its certificate may GET /cluster/*).
    await waitFor(
      async () => {
        const status = await cli([
          "status",
          "--certs-dir",
          nodeCerts("a1"),
          "--node",
          seed,
          "--json",
        ]);
        if (status.code !== 0) return null;
        return (JSON.parse(status.out) as { members: unknown[] }).members.length === 3 || null;
      },
      { timeoutMs: 40_000, what: "three members over mTLS" },
    );
    // No token yet: the node's certificate creates the first admin token.
    const made = await cli([
      ...["token", "create", "--role", "admin"],
      ...["--certs-dir", nodeCerts("a1"), "--node", seed],
    ]);
    expect(made.code, made.err).toBe(0);
    tokens["admin"] = made.out.trim();
    expect(tokens["admin"]).toMatch(/^gv_[0-9a-f]{16}_[0-9a-f]{64}$/);
    writeFileSync(tokenFile("admin"), `${tokens["admin"]}\n`, { mode: 0o600 });
    for (const role of ["reader", "writer"]) {
      const next = await cli([
        ...["token", "create", "--role", role, "--token-file", tokenFile("admin")],
        ...["--certs-dir", caOnly(), "--node", seed],
      ]);
      expect(next.code, next.err).toBe(0);
      tokens[role] = next.out.trim();
      writeFileSync(tokenFile(role), `${tokens[role]}\n`, { mode: 0o600 });
    }
  }, 120_000);

  it("refuses no credential and a wrong token with 401, a reader's write with 403", async () => {
    const none = await call(`${url(0)}/kv/k`, { ca });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: "unauthorized" });
    const wrong = `gv_${"0".repeat(16)}_${"1".repeat(64)}`;
    expect((await call(`${url(0)}/kv/k`, { ca }, { headers: bearer(wrong) })).status).toBe(401);
    const put = { method: "PUT", headers: bearer(tokens["reader"] as string), body: "v" };
    const refused = await call(`${url(0)}/kv/k`, { ca }, put);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: "forbidden" });
    // The probes stay open.
    expect((await call(`${url(0)}/health`, { ca })).status).toBe(200);
  }, 30_000);

  it("a writer's token writes with the CLI; a reader's reads on another node", async () => {
    await waitFor(
      async () => {
        const put = await cli([
          ...["put", "k1", "v1", "--w", "quorum", "--token-file", tokenFile("writer")],
          ...["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[0]}`],
        ]);
        return put.code === 0 || null;
      },
      { timeoutMs: 30_000, what: "a quorum PUT with a writer token" },
    );
    const got = await waitFor(
      async () => {
        const get = await cli([
          ...["get", "k1", "--r", "quorum", "--token-file", tokenFile("reader")],
          ...["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[2]}`],
        ]);
        return get.code === 0 ? get.out : null;
      },
      { timeoutMs: 30_000, what: "a quorum GET with a reader token" },
    );
    expect(got).toBe("v1");
    // A writer is not an admin.
    const writerList = await cli([
      ...["token", "list", "--token-file", tokenFile("writer")],
      ...["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[0]}`],
    ]);
    expect(writerList.code).not.toBe(0);
    expect(writerList.err).toContain("forbidden");
  }, 90_000);

  it("grapevine bucket takes the certs dir and a token: an admin sets props, a reader reads", async () => {
    const at = ["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[1]}`];
    const set = await cli([
      ...["bucket", "set", "audited", "w=one", "--token-file", tokenFile("admin")],
      ...at,
    ]);
    expect(set.code, set.err).toBe(0);
    const readerSet = await cli([
      ...["bucket", "set", "audited", "w=all", "--token-file", tokenFile("reader")],
      ...at,
    ]);
    expect(readerSet.code).not.toBe(0);
    expect(readerSet.err).toContain("forbidden");
    const got = await cli(["bucket", "get", "audited", "--token-file", tokenFile("reader"), ...at]);
    expect(got.code, got.err).toBe(0);
    expect(JSON.parse(got.out)).toMatchObject({ props: { w: "one" } });
  }, 60_000);

  it("the client library authenticates with its token option", async () => {
    const db = new Grapevine({ nodes: [url(1)], tls: { ca }, token: tokens["writer"] });
    try {
      await db.put("k2", "v2", { w: "quorum" });
      expect((await db.get("k1", { r: "quorum" }))?.value.toString()).toBe("v1");
    } finally {
      await db.close();
    }
    const anonymous = new Grapevine({ nodes: [url(1)], tls: { ca }, deadlineMs: 3_000 });
    try {
      await expect(anonymous.get("k1")).rejects.toThrow();
    } finally {
      await anonymous.close();
    }
  }, 30_000);

  it("client certificates carry their role; a certificate-only write needs the request header", async () => {
    const reader = clientCert("ro");
    expect((await call(`${url(0)}/kv/k1`, reader)).status).toBe(200);
    const marked = { "x-grapevine-request": "test" };
    const readerPut = await call(`${url(0)}/kv/k3`, reader, {
      method: "PUT",
      headers: marked,
      body: "v",
    });
    expect(readerPut.status).toBe(403);
    const writer = clientCert("rw");
    // A form-shaped write (text/plain, no custom header), as a page on another site could send.
    const crossSite = await call(`${url(0)}/kv/k3`, writer, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "from a web page",
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.json).toMatchObject({ error: "forbidden" });
    const put = await call(`${url(0)}/kv/k3?w=all`, writer, {
      method: "PUT",
      headers: marked,
      body: "v3",
    });
    expect(put.status).toBe(204);
    // A node's certificate reads the cluster's state but is not a client's.
    expect((await call(`${url(0)}/cluster/status`, asNode("a2"))).status).toBe(200);
    expect((await call(`${url(0)}/kv/k1`, asNode("a2"))).status).toBe(403);
  }, 30_000);

  it("refuses a node message whose `from` is not its certificate's node", async () => {
    const forged = encodePeerBody(heartbeatFrom("a3"));
    const answer = await call(`${url(0)}/internal/v1/peer`, asNode("a2"), {
      method: "POST",
      headers: { "content-type": "application/msgpack" },
      body: forged,
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ error: "forbidden" });
    // The same message in its own name goes through.
    const honest = await call(`${url(0)}/internal/v1/peer`, asNode("a2"), {
      method: "POST",
      headers: { "content-type": "application/msgpack" },
      body: encodePeerBody(heartbeatFrom("a2")),
    });
    expect(honest.status).toBeLessThan(300);
  }, 30_000);

  it("a token revoked on one node stops working on another within seconds", async () => {
    const reading = { headers: bearer(tokens["reader"] as string) };
    expect((await call(`${url(2)}/kv/k1`, { ca }, reading)).status).toBe(200);
    const listed = await cli([
      ...["token", "list", "--json", "--token-file", tokenFile("admin")],
      ...["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[0]}`],
    ]);
    expect(listed.code, listed.err).toBe(0);
    const readerId = (tokens["reader"] as string).split("_")[1] as string;
    const ids = (JSON.parse(listed.out) as { tokens: { id: string }[] }).tokens.map((t) => t.id);
    expect(ids).toContain(readerId);
    expect(listed.out).not.toContain((tokens["reader"] as string).split("_")[2]);
    const revokedAt = Date.now();
    const revoked = await cli([
      ...["token", "revoke", readerId, "--token-file", tokenFile("admin")],
      ...["--certs-dir", caOnly(), "--node", `127.0.0.1:${ports[0]}`],
    ]);
    expect(revoked.code, revoked.err).toBe(0);
    await waitFor(
      async () => (await call(`${url(2)}/kv/k1`, { ca }, reading)).status === 401 || null,
      { timeoutMs: REVOCATION_SPREAD_MS_MAX, intervalMs: 100, what: "the revocation on a3" },
    );
    const spreadMs = Date.now() - revokedAt;
    expect(spreadMs).toBeLessThan(REVOCATION_SPREAD_MS_MAX);
    // Refusals are counted by reason.
    const metrics = await request(`${url(2)}/metrics`, {
      dispatcher: new Agent({ connect: { ca } }),
      headers: bearer(tokens["admin"] as string),
    });
    const text = await metrics.body.text();
    expect(text).toMatch(/grapevine_auth_refusals_total\{reason="revoked"\} [1-9]/);
  }, 60_000);
});
