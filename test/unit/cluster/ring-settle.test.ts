import { describe, expect, it } from "vitest";
import { RingSettle } from "../../../src/cluster/ring-settle.js";

const TICK_MS = 500;

describe("RingSettle", () => {
  it("is settled at once for a node with no one to learn the ring from", () => {
    expect(new RingSettle({ startedMs: 0, quietMs: TICK_MS, alone: true }).settled).toBe(true);
  });

  it("waits for a peer's message and then for the ring to stay the same for quietMs", () => {
    const settle = new RingSettle({ startedMs: 0, quietMs: TICK_MS, alone: false });
    expect(settle.observe(0, "self-only", 0)).toBe(false);
    // Nothing heard yet: an unchanged ring proves nothing.
    expect(settle.observe(3_000, "self-only", 0)).toBe(false);
    // A peer's state arrives and changes the ring; it must then hold still for a tick.
    expect(settle.observe(3_500, "five-members", 4)).toBe(false);
    expect(settle.observe(3_800, "all-tokens", 9)).toBe(false);
    expect(settle.observe(4_299, "all-tokens", 12)).toBe(false);
    expect(settle.observe(4_300, "all-tokens", 13)).toBe(true);
    // Settled for good: later ring changes are the ring-change protocol's business.
    expect(settle.observe(4_400, "someone-left", 22)).toBe(true);
    expect(settle.settled).toBe(true);
  });

  it("serves after settleMaxMs even when no peer ever answers", () => {
    const settle = new RingSettle({ startedMs: 100, quietMs: TICK_MS, alone: false, settleMaxMs: 5_000 });
    expect(settle.observe(5_099, "self-only", 0)).toBe(false);
    expect(settle.observe(5_100, "self-only", 0)).toBe(true);
  });
});
