// A real TLS handshake with the certificates security/issue.ts makes: a node:tls server with the
// node certificate asking for a client certificate, a client presenting one, both trusting the
// cluster's CA. Issue 18 §2 puts this on every listener; this shows the certificates fit it.

import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { roleOf } from "../../../src/security/inspect.js";
import {
  CERT_LIFETIMES_MS,
  createCa,
  issueClientCert,
  issueNodeCert,
  type CertificateAuthority,
} from "../../../src/security/issue.js";

const HOST = "127.0.0.1";
const validity = { now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.client };

const servers: tls.Server[] = [];
const sockets: tls.TLSSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

async function nodeServer(ca: CertificateAuthority): Promise<{ port: number; peers: string[] }> {
  const node = await issueNodeCert(
    ca,
    { id: "node1", hosts: [{ type: "ip", value: HOST }] },
    validity,
  );
  const peers: string[] = [];
  const server = tls.createServer(
    { cert: node.certPem, key: node.keyPem, ca: ca.certPem, requestCert: true },
    (socket) => {
      sockets.push(socket);
      const role = roleOf(socket.getPeerCertificate()) ?? "none";
      peers.push(`${String(socket.getPeerCertificate().subject.CN)}:${role}`);
      socket.end("hello\n");
    },
  );
  server.on("tlsClientError", () => undefined);
  servers.push(server);
  server.listen(0, HOST);
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, peers };
}

/** Connects with a client certificate: what the server said, or a rejection when refused. */
function connect(port: number, ca: string, cert: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca, cert, key });
    sockets.push(socket);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    // Under TLS 1.3 the client finishes its side before the server judges its certificate: a
    // refused client sees the connection end (or an alert) without the server's answer.
    socket.on("end", () => (text === "" ? reject(new Error("closed unanswered")) : resolve(text)));
    socket.on("error", reject);
  });
}

describe("TLS with the cluster's certificates", () => {
  it("completes a mutual handshake, the server reading the client's name and role", async () => {
    const ca = await createCa({ now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.ca });
    const { port, peers } = await nodeServer(ca);
    const client = await issueClientCert(ca, { name: "alice", role: "admin" }, validity);
    expect(await connect(port, ca.certPem, client.certPem, client.keyPem)).toBe("hello\n");
    expect(peers).toEqual(["alice:admin"]);
  });

  it("refuses a client certificate of another CA", async () => {
    const ca = await createCa({ now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.ca });
    const other = await createCa({ now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.ca });
    const { port, peers } = await nodeServer(ca);
    const stranger = await issueClientCert(other, { name: "mallory", role: "admin" }, validity);
    await expect(connect(port, ca.certPem, stranger.certPem, stranger.keyPem)).rejects.toThrow();
    expect(peers).toEqual([]);
  });

  it("refuses a server whose certificate is of another CA", async () => {
    const ca = await createCa({ now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.ca });
    const other = await createCa({ now: new Date(), lifetimeMs: CERT_LIFETIMES_MS.ca });
    const { port } = await nodeServer(other);
    const client = await issueClientCert(ca, { name: "alice", role: "reader" }, validity);
    await expect(connect(port, ca.certPem, client.certPem, client.keyPem)).rejects.toThrow(
      /self.signed|unable to (get|verify)/i,
    );
  });
});
