import { describe, expect, it } from "vitest";
import { checkTlsMaterial, TlsMaterialError } from "../../../src/node/node-tls.js";
import { createCa, issueClientCert, issueNodeCert } from "../../../src/security/issue.js";

const NOW = new Date("2026-12-05T00:00:00Z");
const validity = { now: NOW, lifetimeMs: 365 * 24 * 3600 * 1000 };
const hosts = [{ type: "ip" as const, value: "127.0.0.1" }];

describe("checkTlsMaterial (start and SIGHUP rotation)", () => {
  it("takes a node certificate the CA signed with its own key, and refuses every other set", async () => {
    const ca = await createCa(validity);
    const node = await issueNodeCert(ca, { id: "n1", hosts }, validity);
    const loaded = checkTlsMaterial({ ca: ca.certPem, cert: node.certPem, key: node.keyPem }, NOW);
    expect(loaded.notAfter).toEqual(node.notAfter);

    const other = await issueNodeCert(ca, { id: "n2", hosts }, validity);
    expect(() =>
      checkTlsMaterial({ ca: ca.certPem, cert: node.certPem, key: other.keyPem }, NOW),
    ).toThrow(TlsMaterialError);

    const otherCa = await createCa(validity);
    const foreign = await issueNodeCert(otherCa, { id: "n1", hosts }, validity);
    expect(() =>
      checkTlsMaterial({ ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }, NOW),
    ).toThrow(/not signed by the CA/);

    const client = await issueClientCert(ca, { name: "alice", role: "admin" }, validity);
    expect(() =>
      checkTlsMaterial({ ca: ca.certPem, cert: client.certPem, key: client.keyPem }, NOW),
    ).toThrow(/not a node's/);

    expect(() =>
      checkTlsMaterial({ ca: ca.certPem, cert: "garbage", key: node.keyPem }, NOW),
    ).toThrow(TlsMaterialError);
  });
});
