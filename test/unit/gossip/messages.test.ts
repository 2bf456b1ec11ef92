import { describe, it, expect } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import { decodePeerBody, encodePeerBody } from "../../../src/net/codec.js";
import { Gossiper, type GossipOutbound } from "../../../src/gossip/gossiper.js";
import {
  GOSSIP_LIMITS,
  GossipMessageError,
  validateGossipMessage,
  type Delta,
  type GossipMessage,
} from "../../../src/gossip/messages.js";

const from = { from: "node-a", fromAddress: "127.0.0.1:7001" };

function delta(overrides: Partial<Delta> = {}): Delta {
  return {
    id: "node-c",
    address: "127.0.0.1:7003",
    generation: 1_700_000_000_000,
    fromVersion: 0,
    throughVersion: 2,
    states: [
      { key: "status", value: "normal", version: 1 },
      { key: "tokens", value: "1,2,3", version: 2 },
    ],
    ...overrides,
  };
}

const valid: Record<GossipMessage["kind"], GossipMessage> = {
  "gossip-syn": { kind: "gossip-syn", ...from, summary: "00112233445566ff" },
  "gossip-digests": {
    kind: "gossip-digests",
    ...from,
    digests: [{ id: "node-a", generation: 1_700_000_000_000, maxVersion: 4 }],
    complete: true,
    requester: null,
  },
  "gossip-ack": {
    kind: "gossip-ack",
    ...from,
    deltas: [delta()],
    requests: [{ id: "node-d", generation: 0, maxVersion: 0 }],
  },
  "gossip-ack2": { kind: "gossip-ack2", ...from, deltas: [delta()] },
  "gossip-rumor": {
    kind: "gossip-rumor",
    ...from,
    deltas: [delta({ fromVersion: 1, states: [{ key: "tokens", value: "1", version: 2 }] })],
  },
};

function rejects(value: unknown, reason?: RegExp): void {
  let error: unknown;
  try {
    validateGossipMessage(value);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(GossipMessageError);
  const message = (error as Error).message;
  expect(message.length).toBeLessThan(200);
  if (reason) expect(message).toMatch(reason);
}

describe("validateGossipMessage accepts", () => {
  it("one well-formed message of every kind", () => {
    for (const message of Object.values(valid))
      expect(validateGossipMessage(message)).toBe(message);
  });

  it("every message real gossipers emit, after a msgpack round trip (seed 5)", () => {
    const random = createRandom(5);
    const count = 12;
    const address = (i: number) => `127.0.0.1:${7000 + i}`;
    const gossipers = Array.from({ length: count }, (_, i) => {
      const g = new Gossiper(
        {
          self: `node-${i}`,
          address: address(i),
          generation: 1_700_000_000_000 + i,
          seeds: [address(0)],
          urgentKeys: ["status"],
          rumorFanout: 3,
          digestsPerMessageMax: 5, // windows, not whole lists
        },
        createRandom(Math.floor(random.next() * 2 ** 32)),
      );
      g.setLocal("status", "joining");
      g.setLocal("tokens", `${i},${i + 100}`);
      return g;
    });
    const byAddress = new Map(gossipers.map((g, i) => [address(i), g]));
    const kinds = new Set<string>();
    let checked = 0;
    const deliver = (outbounds: GossipOutbound[]): void => {
      const queue = [...outbounds];
      while (queue.length > 0) {
        const outbound = queue.shift() as GossipOutbound;
        const decoded = decodePeerBody(encodePeerBody(outbound.message));
        expect(decoded).toEqual(outbound.message);
        const message = validateGossipMessage(decoded);
        kinds.add(message.kind);
        checked += 1;
        queue.push(...(byAddress.get(outbound.address)?.receive(message, 0, () => true) ?? []));
      }
    };
    for (let round = 0; round < 12; round++) {
      if (round === 6)
        gossipers.forEach((g, i) => g.setLocal("status", i % 2 === 0 ? "normal" : "leaving"));
      for (const g of gossipers) deliver(g.tick(round * 1000, () => true));
    }
    expect([...kinds].sort()).toEqual([
      "gossip-ack",
      "gossip-ack2",
      "gossip-digests",
      "gossip-rumor",
      "gossip-syn",
    ]);
    expect(checked).toBeGreaterThan(100);
  });
});

describe("validateGossipMessage rejects", () => {
  it("anything that is not an object, and unknown kinds (a heartbeat is not gossip)", () => {
    rejects(null);
    rejects("gossip-syn");
    rejects([valid["gossip-syn"]]);
    rejects({ ...valid["gossip-syn"], kind: "heartbeat" }, /kind/);
    rejects({ ...valid["gossip-syn"], kind: undefined }, /kind/);
  });

  it("wrong types", () => {
    rejects({ ...valid["gossip-syn"], summary: 12 }, /summary/);
    rejects({ ...valid["gossip-syn"], summary: "not-hex-at-all!!" }, /summary/);
    rejects({ ...valid["gossip-syn"], from: 7 }, /from/);
    rejects({ ...valid["gossip-digests"], complete: "yes" }, /complete/);
    rejects(
      { ...valid["gossip-digests"], digests: [{ id: "x", generation: "1", maxVersion: 0 }] },
      /generation/,
    );
    rejects(
      { ...valid["gossip-digests"], digests: [{ id: "x", generation: 1, maxVersion: -1 }] },
      /maxVersion/,
    );
    rejects(
      { ...valid["gossip-digests"], digests: [{ id: "x", generation: 1.5, maxVersion: 0 }] },
      /generation/,
    );
    rejects(
      { ...valid["gossip-digests"], digests: [{ id: "x", generation: 2n, maxVersion: 0 }] },
      /generation/,
    );
    rejects({ ...valid["gossip-ack2"], deltas: [delta({ generation: 0 })] }, /generation/);
    rejects(
      {
        ...valid["gossip-ack2"],
        deltas: [delta({ states: [{ key: "s", value: 3, version: 1 } as never] })],
      },
      /value/,
    );
  });

  it("missing and extra fields, at the top and inside", () => {
    const { summary: _dropped, ...withoutSummary } = valid["gossip-syn"] as { summary: string };
    rejects(withoutSummary, /summary/);
    rejects({ ...valid["gossip-syn"], heartbeat: 7 });
    rejects({
      ...valid["gossip-digests"],
      digests: [{ id: "x", generation: 1, maxVersion: 0, extra: true }],
    });
    rejects({ ...valid["gossip-ack2"], deltas: [{ ...delta(), note: "x" }] });
    rejects({
      ...valid["gossip-ack2"],
      deltas: [delta({ states: [{ key: "s", value: "v", version: 1, ttl: 3 } as never] })],
    });
  });

  it("lists and strings over their bounds", () => {
    const digests = Array.from({ length: GOSSIP_LIMITS.digestsPerMessageMax + 1 }, (_, i) => ({
      id: `n${i}`,
      generation: 1,
      maxVersion: 0,
    }));
    rejects({ ...valid["gossip-digests"], digests }, /digests/);
    rejects(
      { ...valid["gossip-syn"], from: "x".repeat(GOSSIP_LIMITS.nodeIdLengthMax + 1) },
      /from/,
    );
    rejects({ ...valid["gossip-syn"], fromAddress: "" }, /fromAddress/);
    rejects(
      {
        ...valid["gossip-ack2"],
        deltas: [
          delta({
            states: [{ key: "k".repeat(GOSSIP_LIMITS.keyLengthMax + 1), value: "", version: 1 }],
          }),
        ],
      },
      /key/,
    );
    rejects(
      {
        ...valid["gossip-ack2"],
        deltas: [
          delta({
            states: [{ key: "k", value: "v".repeat(GOSSIP_LIMITS.valueLengthMax + 1), version: 1 }],
          }),
        ],
      },
      /value/,
    );
    const states = Array.from({ length: GOSSIP_LIMITS.appStatesPerEndpointMax + 1 }, (_, i) => ({
      key: `k${i}`,
      value: "",
      version: i + 1,
    }));
    rejects(
      { ...valid["gossip-ack2"], deltas: [delta({ states, throughVersion: states.length })] },
      /states/,
    );
  });

  it("deltas whose estimated size exceeds deltaBytesPerMessageMax, though each state is in bounds", () => {
    const big = "v".repeat(GOSSIP_LIMITS.valueLengthMax);
    const count = Math.ceil(GOSSIP_LIMITS.deltaBytesPerMessageMax / big.length) + 1;
    const deltas = Array.from({ length: count }, (_, i) =>
      delta({
        id: `n${i}`,
        fromVersion: 0,
        throughVersion: 1,
        states: [{ key: "blob", value: big, version: 1 }],
      }),
    );
    rejects({ ...valid["gossip-ack2"], deltas }, /deltaBytesPerMessageMax/);
  });

  it("the same member twice in one list, the same key twice in one delta, and claims that make no sense", () => {
    rejects({ ...valid["gossip-ack2"], deltas: [delta(), delta()] }, /twice/);
    rejects(
      {
        ...valid["gossip-ack"],
        requests: [
          { id: "d", generation: 0, maxVersion: 0 },
          { id: "d", generation: 1, maxVersion: 0 },
        ],
      },
      /twice/,
    );
    rejects(
      {
        ...valid["gossip-ack2"],
        deltas: [
          delta({
            states: [
              { key: "s", value: "1", version: 1 },
              { key: "s", value: "2", version: 2 },
            ],
          }),
        ],
      },
      /twice/,
    );
    rejects(
      {
        ...valid["gossip-ack2"],
        deltas: [delta({ fromVersion: 3, throughVersion: 2, states: [] })],
      },
      /ends before/,
    );
    rejects({ ...valid["gossip-ack2"], deltas: [delta({ fromVersion: 1 })] }, /fromVersion/);
  });
});
