import { describe, expect, it } from "vitest";
import { validatePeerMessage, type HeartbeatMessage } from "../../../src/cluster/peer-messages.js";
import { decodePeerBody, encodePeerBody } from "../../../src/net/codec.js";

const heartbeat: HeartbeatMessage = {
  kind: "heartbeat",
  from: "node-127-0-0-1-7001",
  generation: 1_764_000_000_123,
  incarnation: 2,
  sequence: 98_765,
};

describe("peer body codec", () => {
  it("carries a heartbeat as a compact array and gives back the same valid message", () => {
    const body = encodePeerBody(heartbeat);
    expect(validatePeerMessage(decodePeerBody(body))).toEqual(heartbeat);
    // The field names alone would be 40 bytes; the array form is the values and a 2-byte tag.
    expect(body.length).toBeLessThan(45);
    expect(body.length).toBeLessThan(Buffer.byteLength(JSON.stringify(heartbeat)) / 2);
  });

  it("leaves every other message as a map, bigints included", () => {
    const message = {
      kind: "gossip-syn",
      from: "a",
      fromAddress: "a:1",
      summary: "00ff",
      token: 2n ** 63n + 5n,
    };
    expect(decodePeerBody(encodePeerBody(message))).toEqual(message);
  });

  it("does not mistake a five-element array that is not tagged for a heartbeat", () => {
    expect(decodePeerBody(encodePeerBody(["x", "a", 1, 2, 3]))).toEqual(["x", "a", 1, 2, 3]);
  });

  it("refuses a tagged array with wrong types through the schema, not by crashing", () => {
    expect(() =>
      validatePeerMessage(decodePeerBody(encodePeerBody(["hb", 7, "g", -1, null]))),
    ).toThrow();
  });
});
