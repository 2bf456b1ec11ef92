import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { InvariantError } from "../../../src/core/assert.js";
import type { NodeId } from "../../../src/core/ids.js";
import { MonitorRing, ringPositionOf } from "../../../src/detector/monitors.js";

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 5_5555;
const PROPERTY_RUNS = 300;

const idArbitrary = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.integer({ min: 0, max: 40 }).map((i) => `node-${i}`),
);
const idsArbitrary = fc.array(idArbitrary, { minLength: 0, maxLength: 24 });
const kArbitrary = fc.integer({ min: 0, max: 8 });

const NODES = Array.from({ length: 10 }, (_, i) => `node-${i + 1}`);

describe("ringPositionOf", () => {
  it("is a stable unsigned 32-bit hash, the same on every node and every version", () => {
    // Pinned: every member must compute the same ring, so these values may never change.
    expect(ringPositionOf("")).toBe(0xab3e7c0b);
    expect(ringPositionOf("a")).toBe(0x1a80b1b3);
    expect(ringPositionOf("node-1")).toBe(0xaac87624);
    expect(ringPositionOf("node-2")).toBe(0xacd784e4);
    expect(ringPositionOf("ñodé-ü")).toBe(0xd72ff81e);
    expect(ringPositionOf("🦀")).toBe(0x5c27a7ab);
  });

  it("spreads ids that differ in one character across the ring", () => {
    const positions = Array.from({ length: 256 }, (_, i) => ringPositionOf(`node-${i}`));
    expect(new Set(positions).size).toBe(256);
    // Each quarter of the ring gets a fair share (expected 64; a sequential hash would put all in
    // one).
    for (let quarter = 0; quarter < 4; quarter++) {
      const inQuarter = positions.filter((p) => Math.floor(p / 2 ** 30) === quarter).length;
      expect(inQuarter).toBeGreaterThan(32);
      expect(inQuarter).toBeLessThan(96);
    }
  });
});

describe("MonitorRing", () => {
  it("gives each member its k successors in ring order", () => {
    const ring = new MonitorRing(NODES);
    const order = ring.members();
    expect([...order].sort()).toEqual([...NODES].sort());
    for (let i = 0; i < order.length; i++) {
      const id = order[i] ?? "";
      const expected = [1, 2, 3].map((step) => order[(i + step) % order.length]);
      expect(ring.monitorsOf(id, 3)).toEqual(expected);
      const predecessors = [1, 2, 3].map((step) => order[(i - step + order.length) % order.length]);
      expect(ring.subjectsOf(id, 3)).toEqual(predecessors);
    }
  });

  it("gives the same monitors whatever the input order, ignoring duplicates", () => {
    const ring = new MonitorRing(NODES);
    const shuffled = new MonitorRing([...NODES].reverse().concat(NODES.slice(0, 4)));
    expect(shuffled.size).toBe(NODES.length);
    for (const id of NODES) expect(shuffled.monitorsOf(id, 5)).toEqual(ring.monitorsOf(id, 5));
  });

  it("gives all other members when there are no more than k of them", () => {
    expect(new MonitorRing(["solo"]).monitorsOf("solo", 5)).toEqual([]);
    expect(new MonitorRing(["a", "b"]).monitorsOf("a", 5)).toEqual(["b"]);
    expect(new MonitorRing(["a", "b"]).subjectsOf("a", 5)).toEqual(["b"]);
    const three = new MonitorRing(["a", "b", "c"]);
    expect([...three.monitorsOf("a", 5)].sort()).toEqual(["b", "c"]);
    expect([...three.subjectsOf("a", 5)].sort()).toEqual(["b", "c"]);
    const six = new MonitorRing(["a", "b", "c", "d", "e", "f"]);
    expect([...six.monitorsOf("c", 5)].sort()).toEqual(["a", "b", "d", "e", "f"]);
  });

  it("gives nothing for an unknown id, or for k = 0", () => {
    const ring = new MonitorRing(NODES);
    expect(ring.monitorsOf("stranger", 5)).toEqual([]);
    expect(ring.subjectsOf("stranger", 5)).toEqual([]);
    expect(new MonitorRing([]).monitorsOf("a", 5)).toEqual([]);
    expect(ring.monitorsOf("node-1", 0)).toEqual([]);
  });

  it("refuses a negative or fractional k as a bug", () => {
    const ring = new MonitorRing(NODES);
    expect(() => ring.monitorsOf("node-1", -1)).toThrow(InvariantError);
    expect(() => ring.subjectsOf("node-1", 1.5)).toThrow(InvariantError);
  });

  it("gives min(k, n − 1) distinct monitors, never the member itself", () => {
    fc.assert(
      fc.property(idsArbitrary, kArbitrary, (ids, k) => {
        const ring = new MonitorRing(ids);
        const n = new Set(ids).size;
        for (const id of new Set(ids)) {
          const monitors = ring.monitorsOf(id, k);
          expect(monitors).toHaveLength(Math.min(k, n - 1));
          expect(new Set(monitors).size).toBe(monitors.length);
          expect(monitors).not.toContain(id);
          for (const monitor of monitors) expect(ring.has(monitor)).toBe(true);
        }
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("makes subjectsOf exactly the inverse of monitorsOf", () => {
    fc.assert(
      fc.property(idsArbitrary, kArbitrary, (ids, k) => {
        const ring = new MonitorRing(ids);
        const members = [...new Set(ids)];
        for (const id of members) {
          const watchedBy = members.filter((m) => ring.monitorsOf(m, k).includes(id));
          expect([...ring.subjectsOf(id, k)].sort()).toEqual(watchedBy.sort());
        }
      }),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });

  it("changes the monitors of at most k members when one member leaves", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArbitrary, { minLength: 2, maxLength: 24 }),
        kArbitrary,
        fc.nat(),
        (ids, k, pick) => {
          const gone = ids[pick % ids.length] as NodeId;
          const before = new MonitorRing(ids);
          const after = new MonitorRing(ids.filter((id) => id !== gone));
          const changed = ids.filter(
            (id) =>
              id !== gone &&
              before.monitorsOf(id, k).join("\n") !== after.monitorsOf(id, k).join("\n"),
          );
          expect(changed.length).toBeLessThanOrEqual(k);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: PROPERTY_RUNS },
    );
  });
});
