// The peer transport over real mutual TLS (issue 18 §5): a node's clients reach a server whose node
// certificate names one id, and PeerIdentityTls decides from the members gossip places at its
// address whether that is the member this node meant to reach.

import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../../src/core/clock.js";
import { UndiciPeerHttp } from "../../../src/net/undici-peer-http.js";
import { createLogger } from "../../../src/node/logger.js";
import {
  PEER_IDENTITY_WARN_INTERVAL_MS,
  PeerIdentityTls,
} from "../../../src/node/peer-identity.js";
import { createCa, issueNodeCert, type CertificateAuthority } from "../../../src/security/issue.js";

const HOST = "127.0.0.1";
const validity = { now: new Date(), lifetimeMs: 24 * 3600 * 1000 };
const hosts = [{ type: "ip" as const, value: HOST }];

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An HTTPS server with the node certificate of `id`, asking for a client certificate. */
async function nodeServer(ca: CertificateAuthority, id: string): Promise<string> {
  const cert = await issueNodeCert(ca, { id, hosts }, validity);
  const server = https.createServer(
    { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem, requestCert: true },
    // Each connection serves one request, so every request makes a new one (and a TLS handshake).
    (_request, response) => response.setHeader("connection", "close").end("ok"),
  );
  server.on("tlsClientError", () => undefined);
  server.listen(0, HOST);
  await once(server, "listening");
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return `${HOST}:${String((server.address() as AddressInfo).port)}`;
}

interface Member {
  readonly id: string;
  readonly address: string;
}

async function caller(ca: CertificateAuthority, members: Member[]) {
  const own = await issueNodeCert(ca, { id: "n1", hosts }, validity);
  const material = { ca: ca.certPem, cert: own.certPem, key: own.keyPem };
  let nowMs = 0;
  const clock: Clock = { nowMs: () => nowMs, schedule: () => () => undefined };
  const warnings: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "warn",
    destination: { write: (line: string) => void warnings.push(JSON.parse(line)) },
  });
  const tls = new PeerIdentityTls({
    tls: { current: () => material, onChange: () => () => undefined },
    engine: { members: () => members },
    clock,
    log,
  });
  const http = new UndiciPeerHttp({ connections: 1, connectTimeoutMs: 2_000, tls });
  closers.push(() => http.close());
  const get = (address: string, to?: string) =>
    http.request(address, {
      method: "GET",
      path: "/",
      headers: {},
      replyBytesMax: 1_024,
      timeoutMs: 5_000,
      ...(to === undefined ? {} : { to }),
    });
  return { http, get, warnings, advance: (ms: number) => (nowMs += ms) };
}

describe("PeerIdentityTls over undici", () => {
  it("reaches a member whose certificate names it, and a seed not yet known by id", async () => {
    const ca = await createCa(validity);
    const address = await nodeServer(ca, "n2");
    const known = await caller(ca, [{ id: "n2", address }]);
    await expect(known.get(address)).resolves.toMatchObject({ statusCode: 200 });
    const seed = await caller(ca, [{ id: "n3", address: "127.0.0.1:1" }]);
    await expect(seed.get(address)).resolves.toMatchObject({ statusCode: 200 });
    expect([...known.warnings, ...seed.warnings]).toEqual([]);
  });

  it("fails the request to a server naming another member, warning once a minute", async () => {
    const ca = await createCa(validity);
    const address = await nodeServer(ca, "n3");
    const client = await caller(ca, [{ id: "n2", address }]);
    await expect(client.get(address)).rejects.toThrow(/names n3, not n2/);
    // The failed connection is not kept: the next request tries again and fails again.
    await expect(client.get(address)).rejects.toThrow(/names n3, not n2/);
    expect(client.warnings).toHaveLength(1);
    expect(client.warnings[0]).toMatchObject({ address, why: "the certificate names n3, not n2" });
    client.advance(PEER_IDENTITY_WARN_INTERVAL_MS);
    await expect(client.get(address)).rejects.toThrow(/names n3/);
    expect(client.warnings).toHaveLength(2);
  });

  it("judges every new connection, a resumed TLS session included", async () => {
    const ca = await createCa(validity);
    const address = await nodeServer(ca, "n3");
    const members: Member[] = [];
    const client = await caller(ca, members);
    // Reached as a seed: n3 answers. Then gossip places another member at that address.
    await expect(client.get(address)).resolves.toMatchObject({ statusCode: 200 });
    members.push({ id: "n2", address });
    await expect(client.get(address)).rejects.toThrow(/names n3, not n2/);
  });

  it("a request naming its member takes only that member's certificate", async () => {
    const ca = await createCa(validity);
    const address = await nodeServer(ca, "n3");
    // A relayed state places n2 at n3's address: by address alone either would do.
    const client = await caller(ca, [
      { id: "n3", address },
      { id: "n2", address },
    ]);
    await expect(client.get(address, "n3")).resolves.toMatchObject({ statusCode: 200 });
    await expect(client.get(address, "n2")).rejects.toThrow(/names n3, not n2/);
    await expect(client.get(address)).resolves.toMatchObject({ statusCode: 200 });
  });
});
