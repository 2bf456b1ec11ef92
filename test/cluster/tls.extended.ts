// Issue 18 §2 with real processes: three nodes started with --certs-dir made by the real
// `grapevine cert`, gossiping over mutual TLS, serving HTTPS to the CLI and the client library,
// refusing their node-to-node routes to anything but a node certificate of their CA, and taking a
// rotated node certificate on SIGHUP without a restart.

import { readFileSync, copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { connect } from "node:tls";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { Grapevine } from "../../src/client/index.js";
import { freePorts } from "../support/ports.js";
import { runGrapevine, useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("tls");
const IDS = ["t1", "t2", "t3"] as const;
const ROUTE = "/internal/v1/replica";

async function cli(
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const result = await runGrapevine(args, { timeoutMs: 30_000 });
  return { code: result.code, out: result.stdout, err: result.stderr };
}

function certsOf(id: string): string {
  return path.join(cluster.dir, `certs-${id}`);
}

/** The serial of the certificate the node at `port` serves now. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once("error", reject);
  });
}

async function postInternal(
  url: string,
  tls: { ca: string; cert?: string; key?: string },
): Promise<{ status: number; body: string }> {
  const agent = new Agent({ connect: tls });
  try {
    const response = await request(`${url}${ROUTE}`, { method: "POST", dispatcher: agent });
    return { status: response.statusCode, body: await response.body.text() };
  } finally {
    await agent.close();
  }
}

describe("TLS everywhere (issue 18 §2)", () => {
  const caKey = () => path.join(cluster.dir, "safe", "ca.key");
  const shared = () => path.join(cluster.dir, "certs");
  let ports: number[] = [];
  let ca = "";

  it("a CA, node and client certificates made with the CLI; three nodes form over mTLS", async () => {
    expect(
      (await cli(["cert", "create-ca", "--certs-dir", shared(), "--ca-key", caKey()])).code,
    ).toBe(0);
    const client = ["cert", "create-client", "ops", "--role", "admin"];
    expect((await cli([...client, "--certs-dir", shared(), "--ca-key", caKey()])).code).toBe(0);
    ca = readFileSync(path.join(shared(), "ca.crt"), "utf8");
    for (const id of IDS) {
      mkdirSync(certsOf(id), { recursive: true });
      copyFileSync(path.join(shared(), "ca.crt"), path.join(certsOf(id), "ca.crt"));
      const made = await cli([
        "cert",
        "create-node",
        "--id",
        id,
        "--host",
        "127.0.0.1,localhost",
        "--certs-dir",
        certsOf(id),
        "--ca-key",
        caKey(),
      ]);
      expect(made.code, made.err).toBe(0);
    }
    ports = await freePorts(3);
    const seed = `127.0.0.1:${ports[0]}`;
    await Promise.all(
      IDS.map((id, index) =>
        cluster.start(
          { id, port: ports[index], seeds: [seed], args: ["--certs-dir", certsOf(id)] },
          { waitServing: false },
        ),
      ),
    );
    await waitFor(
      async () => {
        const status = await cli(["status", "--certs-dir", shared(), "--node", seed, "--json"]);
        if (status.code !== 0) return null;
        const members = (
          JSON.parse(status.out) as { members: { status?: string; live?: boolean }[] }
        ).members;
        return members.length === 3 ? members : null;
      },
      { timeoutMs: 40_000, what: "three members over mTLS" },
    );
  }, 120_000);

  it("quorum PUT and GET over HTTPS with the CLI and the client library", async () => {
    // The ring settles a moment after the members are seen: a quorum write then succeeds.
    await waitFor(
      async () =>
        (
          await cli([
            "put",
            "k1",
            "v1",
            "--w",
            "quorum",
            "--certs-dir",
            shared(),
            "--node",
            `127.0.0.1:${ports[0]}`,
          ])
        ).code === 0,
      { timeoutMs: 30_000, what: "a quorum PUT over HTTPS" },
    );
    // Each node refuses with 503 until it has learned the ring from its peers; a node that
    // served the PUT says nothing of the other two, so each is read until it is ready.
    const getAt = (port: number) =>
      cli(["get", "k1", "--r", "quorum", "--certs-dir", shared(), "--node", `127.0.0.1:${port}`]);
    for (const port of ports.slice(1)) {
      const get = await waitFor(
        async () => {
          const result = await getAt(port);
          return result.code === 0 ? result : null;
        },
        { timeoutMs: 30_000, what: `a quorum GET over HTTPS from port ${port}` },
      );
      expect(get.out).toBe("v1");
    }
    // Over TLS every client request is authenticated (issue 18 §3): the admin client certificate.
    const tls = {
      ca,
      cert: readFileSync(path.join(shared(), "client.ops.crt"), "utf8"),
      key: readFileSync(path.join(shared(), "client.ops.key"), "utf8"),
    };
    const db = new Grapevine({ nodes: [`https://127.0.0.1:${ports[2]}`], tls });
    try {
      await db.put("k2", "v2", { w: "quorum" });
      const entry = await db.get("k2", { r: "quorum" });
      expect(entry?.value.toString()).toBe("v2");
      const back = await db.get("k1", { r: "quorum" });
      expect(back?.value.toString()).toBe("v1");
    } finally {
      await db.close();
    }
  }, 60_000);

  it("plain HTTP to a TLS port fails", async () => {
    await expect(request(`http://127.0.0.1:${ports[0]}/health`)).rejects.toThrow();
  });

  it("node routes refuse no certificate (401), a client's (403) and another CA's (401)", async () => {
    const url = `https://127.0.0.1:${ports[0]}`;
    const none = await postInternal(url, { ca });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ error: "unauthorized" });
    const clientCert = readFileSync(path.join(shared(), "client.ops.crt"), "utf8");
    const clientKey = readFileSync(path.join(shared(), "client.ops.key"), "utf8");
    const asClient = await postInternal(url, { ca, cert: clientCert, key: clientKey });
    expect(asClient.status).toBe(403);
    expect(JSON.parse(asClient.body)).toMatchObject({ error: "forbidden" });
    const other = path.join(cluster.dir, "other");
    const otherKey = path.join(cluster.dir, "safe", "other-ca.key");
    expect(
      (await cli(["cert", "create-ca", "--certs-dir", other, "--ca-key", otherKey])).code,
    ).toBe(0);
    const forged = await cli([
      "cert",
      "create-node",
      "--id",
      "t1",
      "--host",
      "127.0.0.1",
      "--certs-dir",
      other,
      "--ca-key",
      otherKey,
    ]);
    expect(forged.code, forged.err).toBe(0);
    const foreign = await postInternal(url, {
      ca,
      cert: readFileSync(path.join(other, "node.crt"), "utf8"),
      key: readFileSync(path.join(other, "node.key"), "utf8"),
    });
    expect(foreign.status).toBe(401);
    // A node certificate of the cluster's CA is admitted (the empty body is then a bad request).
    const asNode = await postInternal(url, {
      ca,
      cert: readFileSync(path.join(certsOf("t2"), "node.crt"), "utf8"),
      key: readFileSync(path.join(certsOf("t2"), "node.key"), "utf8"),
    });
    expect(asNode.status).toBe(400);
    // Nothing was changed by the refused calls.
    const get = await cli([
      "get",
      "k1",
      "--certs-dir",
      shared(),
      "--node",
      `127.0.0.1:${ports[0]}`,
    ]);
    expect(get.out).toBe("v1");
  }, 60_000);

  it("SIGHUP takes a rotated node certificate without a restart", async () => {
    const port = ports[0] as number;
    const before = await servedSerial(port, ca);
    const made = await cli([
      "cert",
      "create-node",
      "--id",
      "t1",
      "--host",
      "127.0.0.1,localhost",
      "--certs-dir",
      certsOf("t1"),
      "--ca-key",
      caKey(),
      "--overwrite",
    ]);
    expect(made.code, made.err).toBe(0);
    const node = cluster.node("t1");
    process.kill(node.pid, "SIGHUP");
    const after = await waitFor(
      async () => {
        const serial = await servedSerial(port, ca);
        return serial !== before ? serial : null;
      },
      { timeoutMs: 10_000, what: "the new certificate served" },
    );
    expect(after).not.toBe(before);
    expect(cluster.node("t1").running).toBe(true);
    const put = await cli([
      "put",
      "k3",
      "v3",
      "--w",
      "all",
      "--certs-dir",
      shared(),
      "--node",
      `127.0.0.1:${port}`,
    ]);
    expect(put.code, put.err).toBe(0);
    const get = await cli([
      "get",
      "k3",
      "--r",
      "all",
      "--certs-dir",
      shared(),
      "--node",
      `127.0.0.1:${ports[2]}`,
    ]);
    expect(get.out).toBe("v3");
  }, 60_000);
});
