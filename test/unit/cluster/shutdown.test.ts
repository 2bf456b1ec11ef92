// A clean stop's gossiped `shutdown` (issue 21 §3), on the pure membership core: ClusterViews wired
// through an in-memory network under virtual time. Peers count the member down on the announcement
// alone, keep its tokens and status, and count it up again when it restarts with a newer
// generation. Also the verdict rule with a shut-down monitor, and the gossiper's direct push.

import { describe, expect, it } from "vitest";
import { GENERATION, GOSSIP_INTERVAL_MS, IDS, ViewNet } from "../../support/view-net.js";
import { createRandom } from "../../../src/core/random.js";
import { livenessChanges } from "../../../src/cluster/liveness.js";
import type { MemberRecord } from "../../../src/cluster/member-record.js";
import { Gossiper } from "../../../src/gossip/gossiper.js";

function convergedNet(): ViewNet {
  const net = new ViewNet(["n1"]);
  for (const id of IDS) net.add(id, GENERATION + IDS.indexOf(id));
  net.run(10_000);
  for (const view of net.views.values())
    expect(
      view
        .membership()
        .map((m) => m.id)
        .sort(),
    ).toEqual(IDS);
  for (const id of IDS) net.eventsOf(id);
  return net;
}

describe("a clean stop's shutdown state", () => {
  it("counts the member down on every peer at once, from the announcement alone, with its tokens and status kept", () => {
    const net = convergedNet();
    const fingerprints = IDS.map((id) => net.views.get(id)?.ringFingerprint());
    const stopping = net.views.get("n4");
    const announcement = stopping?.announceShutdown(net.nowMs) ?? [];
    // One push to each live peer, nothing else needed: no tick runs before the checks.
    expect(announcement.map((o) => o.to).sort()).toEqual(["n1", "n2", "n3"]);
    net.views.delete("n4");
    net.deliver(announcement);
    for (const id of ["n1", "n2", "n3"]) {
      const view = net.views.get(id);
      expect(view?.isLive("n4")).toBe(false);
      expect(net.eventsOf(id)).toContainEqual({ kind: "member-down", id: "n4" });
      const member = view?.member("n4", net.nowMs);
      expect(member).toMatchObject({ status: "normal", live: false, shutdown: true, tokens: 2 });
      expect(view?.ringFingerprint()).toBe(fingerprints[IDS.indexOf(id)]);
      expect(
        view
          ?.ring()
          .ranges()
          .some((range) => range.owner === "n4"),
      ).toBe(true);
    }
  });

  it("is up again when it restarts with a newer generation", () => {
    const net = convergedNet();
    const announcement = net.views.get("n4")?.announceShutdown(net.nowMs) ?? [];
    net.views.delete("n4");
    net.deliver(announcement);
    net.run(3_000);
    for (const id of ["n1", "n2", "n3"]) net.eventsOf(id);
    net.add("n4", GENERATION + 100_000);
    net.run(5_000);
    for (const id of ["n1", "n2", "n3"]) {
      const view = net.views.get(id);
      expect(view?.isLive("n4")).toBe(true);
      expect(view?.member("n4", net.nowMs)).toMatchObject({
        status: "normal",
        live: true,
        shutdown: false,
        generation: GENERATION + 100_000,
      });
      expect(net.eventsOf(id)).toContainEqual({ kind: "member-up", id: "n4" });
    }
  });

  it("does not make the stopping node think itself down", () => {
    const net = convergedNet();
    const view = net.views.get("n2");
    view?.announceShutdown(net.nowMs);
    expect(view?.isLive("n2")).toBe(true);
    expect(view?.member("n2", net.nowMs)?.shutdown).toBe(true);
  });

  it("reaches a peer that missed the push through the others' rumors and rounds", () => {
    const net = convergedNet();
    const announcement = net.views.get("n4")?.announceShutdown(net.nowMs) ?? [];
    net.views.delete("n4");
    net.deliver(announcement.filter((o) => o.to !== "n3"));
    net.run(GOSSIP_INTERVAL_MS * 2);
    expect(net.views.get("n3")?.isLive("n4")).toBe(false);
  });
});

function record(id: string, overrides: Partial<MemberRecord> = {}): MemberRecord {
  return {
    id,
    address: `${id}:1`,
    generation: 1,
    status: "normal",
    gossipStatus: "normal",
    removed: false,
    saved: false,
    removals: [],
    removalsText: "[]",
    tokensText: "",
    tokenCount: 1,
    incarnation: 0,
    votes: new Map(),
    votesText: "[]",
    load: null,
    shutdown: false,
    ...overrides,
  };
}

describe("livenessChanges", () => {
  const vote = (subject: string) => ({
    subject,
    generation: 1,
    incarnation: 0,
    phi: 20,
    samples: 10,
    silentMs: 9_000,
    atMs: 0,
  });

  it("counts a shut-down monitor as unable to vote: one live monitor's vote then convicts", () => {
    // s has monitors a and b; b shut down, a votes. Two votes are required of unaccused monitors.
    const records = new Map([
      ["s", record("s")],
      ["a", record("a", { votes: new Map([["s", vote("s")]]) })],
      ["b", record("b", { shutdown: true })],
      ["self", record("self")],
    ]);
    const inputs = { self: "self", records, voters: ["a"], monitorsOf: () => ["a", "b"] };
    expect(livenessChanges({ ...inputs, down: new Set(), shutdowns: new Set() }).down).toEqual([]);
    expect(
      livenessChanges({ ...inputs, down: new Set(), shutdowns: new Set(["b"]) }).down.sort(),
    ).toEqual(["b", "s"]);
  });

  it("brings a member up once its shutdown is gone and nobody convicts it", () => {
    const records = new Map([
      ["s", record("s")],
      ["self", record("self")],
    ]);
    const changes = livenessChanges({
      self: "self",
      records,
      voters: [],
      down: new Set(["s"]),
      shutdowns: new Set(),
      monitorsOf: () => [],
    });
    expect(changes).toEqual({ down: [], up: ["s"] });
  });
});

describe("Gossiper.announce", () => {
  function gossiper(): Gossiper {
    const g = new Gossiper(
      {
        self: "a",
        address: "a:1",
        generation: GENERATION,
        seeds: [],
        urgentKeys: ["shutdown"],
        rumorFanout: 2,
      },
      createRandom(1),
    );
    for (const id of ["b", "c", "d"]) {
      g.receive(
        {
          kind: "gossip-rumor",
          from: id,
          fromAddress: `${id}:1`,
          deltas: [
            {
              id,
              address: `${id}:1`,
              generation: GENERATION,
              fromVersion: 0,
              throughVersion: 1,
              states: [{ key: "status", value: "normal", version: 1 }],
            },
          ],
        },
        0,
        () => true,
      );
    }
    g.setLocal("status", "normal");
    g.setLocal("shutdown", "true");
    return g;
  }

  it("pushes the announced state to live members only, up to the bound, in id order", () => {
    const out = gossiper().announce("shutdown", (id) => id !== "c", 5);
    expect(out.map((o) => o.to)).toEqual(["b", "d"]);
    const message = out[0]?.message;
    expect(message?.kind).toBe("gossip-rumor");
    if (message?.kind !== "gossip-rumor") return;
    expect(message.deltas[0]?.states.map((s) => s.key)).toEqual(["shutdown"]);
    expect(
      gossiper()
        .announce("shutdown", () => true, 1)
        .map((o) => o.to),
    ).toEqual(["b"]);
  });
});
