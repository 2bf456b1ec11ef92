import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  compareDigest,
  hashDigest,
  hashId,
  inCyclicRange,
  Summary,
  summarize,
  type DigestOf,
} from "../../../src/gossip/digest.js";

// Fixed seeds so a failure replays exactly; fast-check prints the seed and path on failure too.
const SEED = 20_240_611;

const digestArbitrary: fc.Arbitrary<DigestOf> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 12 }),
  generation: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  maxVersion: fc.nat(),
});

const distinctDigests = fc.uniqueArray(digestArbitrary, {
  minLength: 1,
  maxLength: 30,
  selector: (d) => d.id,
});

describe("summary of digests", () => {
  it("does not depend on the order the members are added in", () => {
    fc.assert(
      fc.property(distinctDigests, fc.nat(), (digests, rotation) => {
        const shuffled = [
          ...digests.slice(rotation % digests.length),
          ...digests.slice(0, rotation % digests.length),
        ].reverse();
        expect(summarize(shuffled)).toBe(summarize(digests));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("changes when any one member's generation, version or id changes", () => {
    fc.assert(
      fc.property(
        distinctDigests,
        fc.nat(),
        fc.constantFrom("generation", "maxVersion", "id"),
        (digests, which, field) => {
          const index = which % digests.length;
          const before = summarize(digests);
          const changed = digests.map((d, i) => {
            if (i !== index) return d;
            if (field === "generation")
              return { ...d, generation: d.generation === 1 ? 2 : d.generation - 1 };
            if (field === "maxVersion") return { ...d, maxVersion: d.maxVersion + 1 };
            return { ...d, id: `${d.id}\u0000renamed` };
          });
          expect(summarize(changed)).not.toBe(before);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("kept incrementally (add, remove, replace) equals the summary recomputed from scratch", () => {
    const operation = fc.tuple(
      fc.constantFrom("add", "remove", "bump"),
      fc.integer({ min: 0, max: 9 }),
      fc.nat({ max: 5 }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const summary = new Summary();
        const current = new Map<string, DigestOf>();
        const hashOf = (d: DigestOf) => hashDigest(hashId(d.id), d.generation, d.maxVersion);
        for (const [kind, member, amount] of operations) {
          const id = `node-${member}`;
          const held = current.get(id);
          if (kind === "add" && held === undefined) {
            const digest = { id, generation: 1_700_000_000_000 + member, maxVersion: amount };
            current.set(id, digest);
            summary.add(hashOf(digest));
          } else if (kind === "remove" && held !== undefined) {
            current.delete(id);
            summary.remove(hashOf(held));
          } else if (kind === "bump" && held !== undefined) {
            const next = { ...held, maxVersion: held.maxVersion + amount + 1 };
            summary.remove(hashOf(held));
            summary.add(hashOf(next));
            current.set(id, next);
          }
        }
        expect(summary.toString()).toBe(summarize(current.values()));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("is 16 lowercase hex digits, and the empty view sums to zero", () => {
    expect(summarize([])).toBe("0000000000000000");
    expect(summarize([{ id: "a", generation: 1, maxVersion: 3 }])).toMatch(/^[0-9a-f]{16}$/);
  });

  it("tells generations above 2^32 apart (generations are epoch milliseconds)", () => {
    const base = { id: "a", maxVersion: 1 };
    expect(summarize([{ ...base, generation: 2 ** 40 }])).not.toBe(
      summarize([{ ...base, generation: 2 ** 40 + 2 ** 32 }]),
    );
  });
});

describe("compareDigest", () => {
  const local = { id: "a", generation: 10, maxVersion: 5 };

  it("requests a member it does not know", () => {
    expect(compareDigest(undefined, local)).toBe("request");
  });

  it("lets a newer generation win whatever the versions", () => {
    expect(compareDigest(local, { id: "a", generation: 11, maxVersion: 0 })).toBe("request");
    expect(compareDigest(local, { id: "a", generation: 9, maxVersion: 99 })).toBe("send");
  });

  it("compares versions within one generation", () => {
    expect(compareDigest(local, { id: "a", generation: 10, maxVersion: 7 })).toBe("request");
    expect(compareDigest(local, { id: "a", generation: 10, maxVersion: 3 })).toBe("send");
    expect(compareDigest(local, { id: "a", generation: 10, maxVersion: 5 })).toBe("none");
  });
});

describe("inCyclicRange", () => {
  it("covers a plain range and a range that wraps past the end of the id order", () => {
    expect(inCyclicRange("c", "b", "d")).toBe(true);
    expect(inCyclicRange("e", "b", "d")).toBe(false);
    expect(inCyclicRange("z", "x", "b")).toBe(true);
    expect(inCyclicRange("a", "x", "b")).toBe(true);
    expect(inCyclicRange("m", "x", "b")).toBe(false);
  });
});
