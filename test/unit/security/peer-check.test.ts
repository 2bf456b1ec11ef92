import { describe, expect, it } from "vitest";
import { judgeNodePeer, SERVER_AUTH_OID } from "../../../src/security/peer-check.js";

const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

describe("judgeNodePeer", () => {
  it("admits a node certificate of the CA, by its CN", () => {
    const cert = {
      subject: { O: "Grapevine", CN: "n1" },
      ext_key_usage: [SERVER_AUTH_OID, CLIENT_AUTH_OID],
    };
    expect(judgeNodePeer(true, undefined, cert)).toEqual({ admitted: true, nodeId: "n1" });
  });

  it("refuses no certificate and another CA's with unauthorized", () => {
    expect(judgeNodePeer(false, undefined, {})).toMatchObject({
      admitted: false,
      code: "unauthorized",
    });
    const foreign = { subject: { CN: "n1" }, ext_key_usage: [SERVER_AUTH_OID] };
    const verdict = judgeNodePeer(false, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", foreign);
    expect(verdict).toMatchObject({ admitted: false, code: "unauthorized" });
  });

  it("refuses a client certificate of the CA with forbidden, whatever its role", () => {
    for (const role of ["reader", "writer", "admin"]) {
      const cert = { subject: { CN: "alice", OU: role }, ext_key_usage: [CLIENT_AUTH_OID] };
      expect(judgeNodePeer(true, undefined, cert)).toMatchObject({
        admitted: false,
        code: "forbidden",
      });
    }
    // serverAuth with an OU is not what issueNodeCert makes either.
    const odd = { subject: { CN: "x", OU: "admin" }, ext_key_usage: [SERVER_AUTH_OID] };
    expect(judgeNodePeer(true, undefined, odd)).toMatchObject({ code: "forbidden" });
  });
});
