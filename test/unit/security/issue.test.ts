import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CaMismatchError,
  CERT_LIFETIMES_MS,
  createCa,
  issueClientCert,
  issueNodeCert,
  NOT_BEFORE_BACKDATE_MS,
} from "../../../src/security/issue.js";
import { describeCertificate } from "../../../src/security/inspect.js";

const NOW = new Date("2026-12-05T12:00:00Z");
const HOSTS = [
  { type: "dns", value: "node1.example" },
  { type: "dns", value: "localhost" },
  { type: "ip", value: "127.0.0.1" },
  { type: "ip", value: "::1" },
] as const;

const caValidity = { now: NOW, lifetimeMs: CERT_LIFETIMES_MS.ca };
const nodeValidity = { now: NOW, lifetimeMs: CERT_LIFETIMES_MS.node };

describe("certificates signed by the cluster's CA", () => {
  it("makes a node certificate the CA's key verifies, naming the node and its hosts", async () => {
    const ca = await createCa(caValidity);
    const node = await issueNodeCert(ca, { id: "node1", hosts: HOSTS }, nodeValidity);
    const cert = new X509Certificate(node.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.subject).toContain("CN=node1");
    expect(cert.checkHost("node1.example")).toBe("node1.example");
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkHost("other.example")).toBeUndefined();
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkIP("::1")).toBe("::1");
    expect(cert.checkIP("10.0.0.1")).toBeUndefined();
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  });

  it("backdates notBefore an hour, and ends after the node lifetime", async () => {
    const ca = await createCa(caValidity);
    const node = await issueNodeCert(ca, { id: "node1", hosts: HOSTS }, nodeValidity);
    const cert = new X509Certificate(node.certPem);
    expect(new Date(cert.validFrom).getTime()).toBe(NOW.getTime() - NOT_BEFORE_BACKDATE_MS);
    expect(NOT_BEFORE_BACKDATE_MS).toBe(60 * 60 * 1000);
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + CERT_LIFETIMES_MS.node);
    expect(node.notAfter.getTime()).toBe(NOW.getTime() + CERT_LIFETIMES_MS.node);
    expect(node.cappedToCa).toBe(false);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
  });

  it("refuses a node certificate of another CA", async () => {
    const ours = await createCa(caValidity);
    const theirs = await createCa(caValidity);
    const node = await issueNodeCert(theirs, { id: "node1", hosts: HOSTS }, nodeValidity);
    const cert = new X509Certificate(node.certPem);
    expect(cert.verify(new X509Certificate(ours.certPem).publicKey)).toBe(false);
  });

  it("puts the client's name and role in the subject, for clientAuth only", async () => {
    const ca = await createCa(caValidity);
    const client = await issueClientCert(ca, { name: "alice", role: "writer" }, nodeValidity);
    const cert = new X509Certificate(client.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    const described = describeCertificate(client.certPem, NOW);
    expect(described).toMatchObject({ kind: "client", commonName: "alice", role: "writer" });
    expect(described.hosts).toEqual([]);
  });

  it("ends a certificate with its CA when asked to outlive it", async () => {
    const ca = await createCa({ now: NOW, lifetimeMs: CERT_LIFETIMES_MS.node / 2 });
    const node = await issueNodeCert(ca, { id: "node1", hosts: HOSTS }, nodeValidity);
    expect(node.cappedToCa).toBe(true);
    expect(node.notAfter.getTime()).toBe(NOW.getTime() + CERT_LIFETIMES_MS.node / 2);
  });

  it("refuses to sign with a key that is not the CA certificate's", async () => {
    const ca = await createCa(caValidity);
    const other = await createCa(caValidity);
    const mixed = { certPem: ca.certPem, keyPem: other.keyPem };
    await expect(issueNodeCert(mixed, { id: "n", hosts: HOSTS }, nodeValidity)).rejects.toThrow(
      CaMismatchError,
    );
    const leaf = await issueNodeCert(ca, { id: "n", hosts: HOSTS }, nodeValidity);
    const notCa = { certPem: leaf.certPem, keyPem: leaf.keyPem };
    await expect(
      issueClientCert(notCa, { name: "a", role: "admin" }, nodeValidity),
    ).rejects.toThrow(/not a CA/);
  });
});
