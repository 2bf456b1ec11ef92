// Saved members and tombstones (issue 21 §2), on the pure membership core: ClusterViews wired
// through an in-memory network under virtual time, restarted with what they saved
// (ClusterEngineOptions.saved). A saved member is down with its tokens until gossip brings it; a
// tombstone beats a saved member and stale gossip, and every view republishes it, so a removal
// outlives its remover's restart.

import { describe, expect, it } from "vitest";
import { addressOf, GENERATION, IDS, tokensOf, ViewNet } from "../../support/view-net.js";
import type { ClusterView } from "../../../src/cluster/cluster-view.js";
import { RemovalBook, TOMBSTONES_MAX } from "../../../src/cluster/removal-book.js";
import { NO_SAVED_MEMBERSHIP } from "../../../src/cluster/saved-members.js";

function cluster(): ViewNet {
  const net = new ViewNet(["n1", "n2"]);
  for (const id of IDS) net.add(id, GENERATION);
  net.run(10_000);
  return net;
}

const ringNodes = (view: ClusterView): string[] => [...view.ring().nodes()].sort();
const memberIds = (view: ClusterView): string[] =>
  view
    .membership()
    .map((entry) => entry.id)
    .sort();

describe("saved members", () => {
  it("are saved with address, generation, status and tokens, never the node itself", () => {
    const net = cluster();
    const saved = net.view("n1").savedMembership();
    expect(saved.members.map((member) => member.id)).toEqual(["n2", "n3", "n4"]);
    expect(saved.members[2]).toEqual({
      id: "n4",
      address: addressOf("n4"),
      generation: GENERATION,
      status: "normal",
      tokens: tokensOf("n4"),
    });
    expect(saved.tombstones).toEqual([]);
  });

  it("come back down with their tokens before anyone gossips, and up once gossip brings them", () => {
    const net = cluster();
    const saved = IDS.map((id) => [id, net.stop(id)] as const);
    // A whole-cluster restart without n4: before a single message, n1's ring already holds n4.
    for (const [id, state] of saved) if (id !== "n4") net.add(id, GENERATION + 100, state);
    const n1 = net.view("n1");
    n1.tick(net.nowMs); // its first tick, its messages lost: it has heard from nobody
    expect(ringNodes(n1)).toEqual(IDS);
    expect(n1.ring().tokensOf("n4")).toEqual(tokensOf("n4"));
    expect(n1.isLive("n4")).toBe(false);
    net.run(10_000);
    for (const id of ["n1", "n2", "n3"]) {
      expect(ringNodes(net.view(id)), id).toEqual(IDS);
      expect(net.view(id).isLive("n4"), id).toBe(false);
      expect(
        net
          .view(id)
          .members(net.nowMs)
          .find((member) => member.id === "n4"),
      ).toMatchObject({ live: false, status: "normal", tokens: 2 });
    }
    // n4 returns with a newer generation: gossip replaces the saved record, and n4 is up.
    net.add("n4", GENERATION + 200, saved[3]?.[1]);
    net.run(10_000);
    for (const id of IDS) {
      expect(net.view(id).isLive("n4"), id).toBe(true);
      expect(
        net
          .view(id)
          .membership()
          .find((entry) => entry.id === "n4")?.generation,
        id,
      ).toBe(GENERATION + 200);
    }
  });

  it("stand against gossip of an older generation (a stale copy), not against the same one", () => {
    const net = cluster();
    const saved = net.stop("n1");
    const newer = {
      ...saved,
      members: saved.members.map((member) =>
        member.id === "n4" ? { ...member, generation: GENERATION + 50 } : member,
      ),
    };
    const n1 = net.add("n1", GENERATION + 100, newer);
    net.run(10_000);
    expect(n1.membership().find((entry) => entry.id === "n4")).toMatchObject({
      generation: GENERATION + 50,
      live: false,
    });
    expect(n1.isLive("n3")).toBe(true);
  });
});

describe("tombstones", () => {
  it("beat a saved member: a restart never brings back a removed member or its tokens", () => {
    const net = cluster();
    const saved = net.stop("n1");
    const n1 = net.add("n1", GENERATION + 100, {
      ...saved,
      tombstones: [{ id: "n4", generation: GENERATION }],
    });
    n1.tick(net.nowMs);
    expect(memberIds(n1)).toEqual(["n1", "n2", "n3"]);
    expect(ringNodes(n1)).toEqual(["n1", "n2", "n3"]);
  });

  it("beat stale gossip of the buried generation, and every view then drops the member", () => {
    const net = cluster();
    net.stop("n4");
    const saved = net.stop("n1");
    // n2 and n3 still gossip n4 at GENERATION, as normal; n1's tombstone covers that generation.
    net.add("n1", GENERATION + 100, {
      ...saved,
      tombstones: [{ id: "n4", generation: GENERATION }],
    });
    net.run(10_000);
    for (const id of ["n1", "n2", "n3"]) {
      expect(net.view(id).isRemoved("n4"), id).toBe(true);
      expect(ringNodes(net.view(id)), id).toEqual(["n1", "n2", "n3"]);
    }
  });

  it("do not cover a newer generation: a member restarted after its removal is back", () => {
    const net = cluster();
    const saved = net.stop("n4");
    net.stop("n1");
    net.add("n1", GENERATION + 100, {
      ...NO_SAVED_MEMBERSHIP,
      tombstones: [{ id: "n4", generation: GENERATION }],
    });
    net.add("n4", GENERATION + 200, saved);
    net.run(10_000);
    expect(net.view("n1").isRemoved("n4")).toBe(false);
    expect(ringNodes(net.view("n1"))).toEqual(IDS);
  });

  it("are republished after the remover restarts, even without its disk (seed 5, --faults ring,crash)", () => {
    const net = cluster();
    net.stop("n4");
    net.run(30_000);
    const n1 = net.view("n1");
    n1.announceRemoval("n4", "removing");
    net.run(3_000);
    n1.announceRemoval("n4", "removed");
    net.run(3_000);
    for (const id of ["n1", "n2", "n3"]) expect(net.view(id).isRemoved("n4"), id).toBe(true);
    // Every view remembers the tombstone and saves it; the remover restarts with what it saved.
    expect(net.view("n2").savedMembership().tombstones).toEqual([
      { id: "n4", generation: GENERATION },
    ]);
    const saved = net.stop("n1");
    expect(saved.tombstones).toEqual([{ id: "n4", generation: GENERATION }]);
    expect(saved.members.map((member) => member.id)).toEqual(["n2", "n3"]);
    net.add("n1", GENERATION + 100, saved);
    net.run(10_000);
    for (const id of ["n1", "n2", "n3"]) {
      expect(net.view(id).isRemoved("n4"), id).toBe(true);
      expect(ringNodes(net.view(id)), id).toEqual(["n1", "n2", "n3"]);
    }
    // The remover loses its disk and restarts: the others still publish the tombstone.
    net.stop("n1");
    net.add("n1", GENERATION + 200);
    net.run(10_000);
    for (const id of ["n1", "n2", "n3"])
      expect(ringNodes(net.view(id)), id).toEqual(["n1", "n2", "n3"]);
    expect(net.view("n1").savedMembership().tombstones).toEqual([
      { id: "n4", generation: GENERATION },
    ]);
  });

  it("bury a member that left by itself (decommission) for a node whose saved copy still has it normal", () => {
    const net = cluster();
    const stale = net.stop("n3");
    net.view("n4").setStatus("left");
    net.run(5_000);
    net.stop("n4");
    // Everyone else restarts too, so nobody holds n4's `left` state; only their tombstones say it
    // left.
    const n1 = net.stop("n1");
    const n2 = net.stop("n2");
    expect(n1.members.map((member) => member.id)).toEqual(["n2", "n3"]);
    net.add("n1", GENERATION + 100, n1);
    net.add("n2", GENERATION + 100, n2);
    net.add("n3", GENERATION + 100, stale).tick(net.nowMs);
    expect(ringNodes(net.view("n3"))).toEqual(IDS);
    net.run(10_000);
    for (const id of ["n1", "n2", "n3"])
      expect(ringNodes(net.view(id)), id).toEqual(["n1", "n2", "n3"]);
  });
});

describe("RemovalBook", () => {
  it("keeps the newest TOMBSTONES_MAX tombstones and publishes the removals it drives after them", () => {
    const book = new RemovalBook(
      Array.from({ length: TOMBSTONES_MAX + 5 }, (_, i) => ({ id: `m${i}`, generation: 1 })),
    );
    expect(book.tombstoneList()).toHaveLength(TOMBSTONES_MAX);
    expect(book.tombstoneList()[0]?.id).toBe("m5");
    book.announce({ id: "x", generation: 9, phase: "removing" });
    expect(book.published().at(-1)).toEqual({ id: "x", generation: 9, phase: "removing" });
    expect(book.published()).toHaveLength(TOMBSTONES_MAX + 1);
  });

  it("learns finished removals from anyone, by the latest generation, and forgets expired ones", () => {
    const book = new RemovalBook([]);
    expect(book.refresh([{ removals: [{ id: "a", generation: 3, phase: "removing" }] }])).toBe(
      false,
    );
    expect(book.refresh([{ removals: [{ id: "a", generation: 3, phase: "removed" }] }])).toBe(true);
    expect(book.refresh([{ removals: [{ id: "a", generation: 2, phase: "removed" }] }])).toBe(
      false,
    );
    expect(book.buries("a", 3)).toBe(true);
    expect(book.buries("a", 4)).toBe(false);
    // The tombstone stands after its publisher stopped publishing it.
    expect(book.refresh([])).toBe(false);
    expect(book.removalsByTarget.get("a")).toEqual({ id: "a", generation: 3, phase: "removed" });
    expect(book.forget([{ id: "a", generation: 3 }])).toBe(true);
    expect(book.tombstoneList()).toEqual([]);
  });
});
