import { describe, expect, it } from "vitest";
import { judgeNodeServer, SERVER_AUTH_OID } from "../../../src/security/peer-check.js";

const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";
const node = (id: string) => ({
  subject: { O: "Grapevine", CN: id },
  ext_key_usage: [SERVER_AUTH_OID, CLIENT_AUTH_OID],
});

describe("judgeNodeServer (issue 18 §5: the server this node called names its member)", () => {
  it("verifies a node certificate naming the member expected at the address", () => {
    expect(judgeNodeServer(node("n2"), ["n2"])).toEqual({ verified: true, nodeId: "n2" });
    expect(judgeNodeServer(node("n2"), ["n1", "n2"])).toEqual({ verified: true, nodeId: "n2" });
  });

  it("refuses a node certificate naming another member", () => {
    const verdict = judgeNodeServer(node("n3"), ["n2"]);
    expect(verdict).toEqual({ verified: false, why: "the certificate names n3, not n2" });
  });

  it("with no member known at the address (a seed), takes any node certificate and names it", () => {
    expect(judgeNodeServer(node("n9"), [])).toEqual({ verified: true, nodeId: "n9" });
  });

  it("refuses a client certificate or none, whatever is expected", () => {
    const client = { subject: { CN: "n2", OU: "admin" }, ext_key_usage: [CLIENT_AUTH_OID] };
    for (const expected of [[], ["n2"]]) {
      expect(judgeNodeServer(client, expected)).toMatchObject({ verified: false });
      expect(judgeNodeServer({}, expected)).toMatchObject({ verified: false });
    }
  });
});
