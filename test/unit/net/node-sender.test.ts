import { describe, expect, it } from "vitest";
import { encodePeerBody } from "../../../src/net/codec.js";
import { decodeNodeBody } from "../../../src/net/node-route.js";

describe("a node message's sender against its mTLS certificate (issue 18 §5)", () => {
  const body = encodePeerBody({ from: "n2", kind: "syn" });

  it("takes a message from the node the certificate names", () => {
    expect(decodeNodeBody(body, "n2")).toEqual({ from: "n2", kind: "syn" });
  });

  it("refuses a message claiming another node with forbidden", () => {
    expect(() => decodeNodeBody(body, "n3")).toThrow(
      expect.objectContaining({ code: "forbidden", status: 403 }),
    );
  });

  it("checks nothing without TLS (no certificate names a sender)", () => {
    expect(decodeNodeBody(body)).toEqual({ from: "n2", kind: "syn" });
  });
});
