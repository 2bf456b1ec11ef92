// The cluster metadata layer (cluster/metadata.ts): merge is a join (commutative, associative,
// idempotent), the digest is equal exactly when the entries are, and the running digest equals the
// one computed from scratch whatever order entries arrive in.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ClusterMetadata,
  compareEntries,
  digestOf,
  mergeEntries,
  type MetadataEntry,
} from "../../../src/cluster/metadata.js";

const entryArb: fc.Arbitrary<MetadataEntry> = fc.record({
  key: fc.constantFrom("bucket/a", "bucket/b", "bucket/c", "token/x"),
  value: fc.constantFrom("{}", '{"r":1}', '{"w":2}'),
  version: fc.record({
    stampUs: fc.integer({ min: 0, max: 5 }),
    origin: fc.constantFrom("n1", "n2", "n3"),
  }),
});

const mapArb = fc
  .array(entryArb, { maxLength: 12 })
  .map((entries) => new ClusterMetadata(entries))
  .map((metadata) => new Map(metadata.list().map((entry) => [entry.key, entry] as const)));

function same(a: ReadonlyMap<string, MetadataEntry>, b: ReadonlyMap<string, MetadataEntry>) {
  const sorted = (m: ReadonlyMap<string, MetadataEntry>) =>
    [...m.values()].sort((x, y) => (x.key < y.key ? -1 : 1));
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

describe("cluster metadata merge", () => {
  it("is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(mapArb, mapArb, mapArb, (a, b, c) => {
        expect(same(mergeEntries(a, b), mergeEntries(b, a))).toBe(true);
        expect(same(mergeEntries(mergeEntries(a, b), c), mergeEntries(a, mergeEntries(b, c)))).toBe(
          true,
        );
        expect(same(mergeEntries(a, a), a)).toBe(true);
      }),
    );
  });

  it("ends in the same map, and digest, whatever order the entries arrive in", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 20 }), fc.integer(), (entries, seed) => {
        const shuffled = [...entries].sort(
          (x, y) =>
            ((JSON.stringify(x).length * seed) % 7) - ((JSON.stringify(y).length * seed) % 7),
        );
        const one = new ClusterMetadata(entries);
        const two = new ClusterMetadata(shuffled);
        expect(one.list()).toEqual(two.list());
        expect(one.digest()).toBe(two.digest());
        expect(one.digest()).toBe(digestOf(one.list()));
      }),
    );
  });

  it("has equal digests exactly when the entries are equal", () => {
    fc.assert(
      fc.property(mapArb, mapArb, (a, b) => {
        expect(digestOf(a.values()) === digestOf(b.values())).toBe(same(a, b));
      }),
    );
  });

  it("resolves concurrent changes by stamp, then origin", () => {
    const at = (stampUs: number, origin: string, value: string): MetadataEntry => ({
      key: "bucket/a",
      value,
      version: { stampUs, origin },
    });
    expect(compareEntries(at(2, "a", "x"), at(1, "z", "y"))).toBe(1);
    expect(compareEntries(at(1, "a", "x"), at(1, "b", "x"))).toBe(-1);
    const metadata = new ClusterMetadata();
    expect(metadata.setLocal(at(5, "n2", "new"))).toBe(true);
    expect(metadata.merge(at(5, "n1", "old"))).toBe(false);
    expect(metadata.get("bucket/a")?.value).toBe("new");
    expect(metadata.takeAnnouncements()).toHaveLength(1);
    expect(metadata.takeAnnouncements()).toHaveLength(0);
  });

  it("pages through every entry in key order, and sends only newer ones by stamp", () => {
    const entries = Array.from({ length: 10 }, (_, i) => ({
      key: `bucket/k${i}`,
      value: "{}",
      version: { stampUs: i + 1, origin: "n1" },
    }));
    const metadata = new ClusterMetadata(entries);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      let budget = 3;
      const page = metadata.pageAfter(cursor, () => budget-- > 0);
      seen.push(...page.entries.map((entry) => entry.key));
      cursor = page.next;
    } while (cursor !== null);
    expect(seen).toEqual(metadata.list().map((entry) => entry.key));
    const newer = metadata.newerThan(7, () => true);
    expect(newer.map((entry) => entry.version.stampUs)).toEqual([8, 9, 10]);
  });
});
