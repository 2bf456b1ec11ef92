import { describe, expect, it } from "vitest";
import { RingSettle } from "../../../src/cluster/ring-settle.js";

const TICK_MS = 500;
const KNOWS_NOBODY = (): boolean => false;

describe("RingSettle", () => {
  it("is settled at once for a node with no one to learn the ring from", () => {
    expect(new RingSettle({ startedMs: 0, quietMs: TICK_MS, alone: true }).settled).toBe(true);
  });

  it("waits for a peer's message and then for the ring to stay the same for quietMs", () => {
    const settle = new RingSettle({ startedMs: 0, quietMs: TICK_MS, alone: false });
    expect(settle.observe(0, "self-only", 0, KNOWS_NOBODY)).toBe(false);
    // Nothing heard yet: an unchanged ring proves nothing.
    expect(settle.observe(3_000, "self-only", 0, KNOWS_NOBODY)).toBe(false);
    // A peer's state arrives and changes the ring; it must then hold still for a tick.
    expect(settle.observe(3_500, "five-members", 4, KNOWS_NOBODY)).toBe(false);
    expect(settle.observe(3_800, "all-tokens", 9, KNOWS_NOBODY)).toBe(false);
    expect(settle.observe(4_299, "all-tokens", 12, KNOWS_NOBODY)).toBe(false);
    expect(settle.observe(4_300, "all-tokens", 13, KNOWS_NOBODY)).toBe(true);
    // Settled for good: later ring changes are the ring-change protocol's business.
    expect(settle.observe(4_400, "someone-left", 22, KNOWS_NOBODY)).toBe(true);
    expect(settle.settled).toBe(true);
  });

  it("serves after settleMaxMs even when no peer ever answers", () => {
    const settle = new RingSettle({
      startedMs: 100,
      quietMs: TICK_MS,
      alone: false,
      settleMaxMs: 5_000,
    });
    expect(settle.observe(5_099, "self-only", 0, KNOWS_NOBODY)).toBe(false);
    expect(settle.observe(5_100, "self-only", 0, KNOWS_NOBODY)).toBe(true);
  });

  it("after a restart, waits until every peer it knew is back in its view", () => {
    // The cluster's first node has no seeds: only its known peers tell it there is a ring to learn.
    const settle = new RingSettle({
      startedMs: 0,
      quietMs: TICK_MS,
      alone: true,
      expectedPeers: ["node2", "node3", "node4"],
    });
    expect(settle.settled).toBe(false);
    const view = new Set<string>(["node1"]);
    const knows = (id: string): boolean => view.has(id);
    expect(settle.observe(1_000, "self-only", 0, knows)).toBe(false);
    // node2 gossips first and knows only node3 so far (node4 is down and node2 restarted too).
    view.add("node2").add("node3");
    expect(settle.observe(1_200, "three", 2, knows)).toBe(false);
    // The ring holds still for long past quietMs, but node4 is still missing.
    expect(settle.observe(3_000, "three", 9, knows)).toBe(false);
    expect(settle.missingPeers).toEqual(["node4"]);
    view.add("node4");
    expect(settle.observe(3_100, "four", 11, knows)).toBe(false);
    expect(settle.observe(3_600, "four", 12, knows)).toBe(true);
    expect(settle.missingPeers).toEqual([]);
  });

  it("gives up on a known peer no one mentions after settleMaxMs, and says which", () => {
    const settle = new RingSettle({
      startedMs: 0,
      quietMs: TICK_MS,
      alone: true,
      expectedPeers: ["node2", "gone"],
      settleMaxMs: 5_000,
    });
    const knows = (id: string): boolean => id === "node2";
    expect(settle.observe(4_999, "two", 5, knows)).toBe(false);
    expect(settle.observe(5_000, "two", 6, knows)).toBe(true);
    expect(settle.missingPeers).toEqual(["gone"]);
  });
});
