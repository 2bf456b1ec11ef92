// The client's view of the ring, from /cluster/ring and /cluster/status bodies: replicas as the
// node's placement computes them, members translated or left out, bad bodies refused.

import { describe, expect, it } from "vitest";
import { RingBodyError, RingSnapshot } from "../../../src/client/ring-snapshot.js";
import { sameSchemeTranslator } from "../../../src/client/options.js";
import { tokenOf, tokenToString } from "../../../src/ring/partitioner.js";
import { replicasFor } from "../../../src/ring/placement.js";
import { TokenMap } from "../../../src/ring/token-map.js";

const TOKENS = new Map([
  ["a", [10n, 1n << 62n]],
  ["b", [1n << 61n, 3n << 62n]],
  ["c", [1n << 63n]],
]);

const ringBody = {
  node: "a",
  replicationFactor: 2,
  tokens: [...TOKENS].flatMap(([owner, tokens]) =>
    tokens.map((token) => ({ token: tokenToString(token), owner })),
  ),
  ranges: [],
};

const statusBody = {
  node: "a",
  members: [
    { id: "a", address: "10.0.0.1:7001", state: "normal", live: true },
    { id: "b", address: "10.0.0.2:7001", state: "normal", live: false },
    { id: "c", address: "10.0.0.3:7001", state: "normal", live: true },
    { id: "d", address: "10.0.0.4:7001", state: "left", live: false },
  ],
};

describe("RingSnapshot", () => {
  it("names the replicas the node's placement names, at their translated URLs", () => {
    const snapshot = RingSnapshot.parse(ringBody, statusBody, sameSchemeTranslator("http:"));
    const ring = TokenMap.build(TOKENS);
    for (const key of ["x", "y", "photos/1", "user42"]) {
      const expected = replicasFor(ring, tokenOf(key), 2);
      expect(snapshot.replicasOf(key).map((member) => member.id)).toEqual(expected);
    }
    expect(snapshot.member("b")).toEqual({ id: "b", url: "http://10.0.0.2:7001", live: false });
    expect(snapshot.member("d")).toBeUndefined();
  });

  it("leaves out members the translator cannot place", () => {
    const translate = (node: { id: string }): string | undefined =>
      node.id === "c" ? undefined : `http://${node.id}.example:7001`;
    const snapshot = RingSnapshot.parse(ringBody, statusBody, translate);
    expect(snapshot.members.map((member) => member.url)).toEqual([
      "http://a.example:7001",
      "http://b.example:7001",
    ]);
  });

  it.each([
    ["not an object", null, statusBody],
    ["a bad token", { ...ringBody, tokens: [{ token: "xyz", owner: "a" }] }, statusBody],
    ["no replication factor", { ...ringBody, replicationFactor: 0 }, statusBody],
    ["no members", ringBody, { node: "a", members: [] }],
  ])("refuses %s", (_name, ring, status) => {
    expect(() => RingSnapshot.parse(ring, status, sameSchemeTranslator("http:"))).toThrow(
      RingBodyError,
    );
  });
});
