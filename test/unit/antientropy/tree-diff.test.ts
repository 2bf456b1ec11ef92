import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createHash } from "node:crypto";
import {
  RangeHashTree,
  rangePieces,
  type PieceDigest,
  type TreeNode,
} from "../../../src/antientropy/hash-tree.js";
import {
  compareRound,
  descendants,
  diffEntries,
  roundQuestions,
  type DescentOptions,
  type VersionEntry,
} from "../../../src/antientropy/tree-diff.js";
import { TOKEN_MAX } from "../../../src/ring/partitioner.js";
import {
  SEGMENT_COUNT,
  SEGMENT_SPAN,
  segmentFirstToken,
  segmentLastToken,
} from "../../../src/storage/segments.js";
import { compareRecords, tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";

// Fixed so a failure reproduces; fast-check prints the seed and the shrunk counterexample too.
const SEED = 4_242_017;

function digest(label: string, count = 1): PieceDigest {
  return { hash: createHash("md5").update(label).digest(), count };
}

const ZERO: PieceDigest = { hash: new Uint8Array(16), count: 0 };

/**
 * Runs the descent as a session would, with the peer's tree in hand; returns the leaves exchanged.
 */
function descend(
  own: RangeHashTree,
  peer: RangeHashTree,
  options: DescentOptions,
): { leaves: Set<number>; rounds: number } {
  const leaves = new Set<number>();
  const root: TreeNode = { depth: 0, index: 0 };
  let rounds = 1;
  let frontier: TreeNode[] = [];
  const first = compareRound(own, [root], [peer.root()], options);
  const exchange = [...first.exchange];
  frontier = first.descend;
  while (frontier.length > 0) {
    rounds += 1;
    const asked = roundQuestions(own, frontier, options.levelsPerRound);
    const outcome = compareRound(
      own,
      asked,
      asked.map((node) => peer.hashOf(node)),
      options,
    );
    exchange.push(...outcome.exchange);
    frontier = outcome.descend;
  }
  for (const node of exchange) {
    const span = own.leafSpan(node);
    for (let leaf = span.first; leaf < span.end; leaf++) leaves.add(leaf);
  }
  return { leaves, rounds };
}

describe("range pieces", () => {
  it("cuts a range inside one segment into one partial piece", () => {
    const start = segmentFirstToken(7) + 10n;
    const pieces = rangePieces({ start, end: start + 5n });
    expect(pieces).toEqual([{ segment: 7, first: start + 1n, last: start + 5n, whole: false }]);
  });

  it("covers a range exactly: whole segments inside, partial ones at the ends (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: TOKEN_MAX }),
        fc.bigInt({ min: 1n, max: SEGMENT_SPAN * 40n }),
        (start, length) => {
          const end = (start + length) % (TOKEN_MAX + 1n);
          const pieces = rangePieces({ start, end });
          // Consecutive, in ring order, each inside its segment, whole exactly when it spans it.
          let expected = start === TOKEN_MAX ? 0n : start + 1n;
          let covered = 0n;
          for (const piece of pieces) {
            expect(piece.first).toBe(expected);
            expect(
              piece.first >= segmentFirstToken(piece.segment) &&
                piece.last <= segmentLastToken(piece.segment),
            ).toBe(true);
            expect(piece.whole).toBe(
              piece.first === segmentFirstToken(piece.segment) &&
                piece.last === segmentLastToken(piece.segment),
            );
            covered += piece.last - piece.first + 1n;
            expected = piece.last === TOKEN_MAX ? 0n : piece.last + 1n;
          }
          expect(covered).toBe(length);
          expect(pieces.filter((piece) => !piece.whole).length).toBeLessThanOrEqual(2);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("walks the whole ring from just after start, with the start's segment split in two", () => {
    const start = segmentFirstToken(3) + 100n;
    const pieces = rangePieces({ start, end: start });
    expect(pieces).toHaveLength(SEGMENT_COUNT + 1);
    expect(pieces[0]).toMatchObject({ segment: 3, first: start + 1n, whole: false });
    expect(pieces.at(-1)).toMatchObject({ segment: 3, last: start, whole: false });
  });
});

describe("hash tree", () => {
  it("has the same root for the same leaves and a different one when any leaf differs", () => {
    const leaves = Array.from({ length: 37 }, (_, i) => digest(`leaf-${i}`));
    const a = new RangeHashTree(leaves);
    expect(new RangeHashTree(leaves).root()).toEqual(a.root());
    for (const changed of [0, 17, 36]) {
      const other = leaves.map((leaf, i) => (i === changed ? digest("other") : leaf));
      expect(new RangeHashTree(other).root()).not.toEqual(a.root());
    }
  });

  it("spans leaves and counts records under a node, odd last nodes included", () => {
    const leaves = Array.from({ length: 5 }, (_, i) => digest(`x${i}`, i + 1));
    const tree = new RangeHashTree(leaves);
    expect(tree.height).toBe(3);
    expect(tree.leafSpan({ depth: 0, index: 0 })).toEqual({ first: 0, end: 5 });
    expect(tree.leafSpan({ depth: 1, index: 1 })).toEqual({ first: 4, end: 5 });
    expect(tree.countUnder({ depth: 1, index: 0 })).toBe(1 + 2 + 3 + 4);
    expect(descendants(tree, { depth: 1, index: 1 }, 2)).toEqual([{ depth: 3, index: 4 }]);
    expect(descendants(tree, { depth: 0, index: 0 }, 2)).toEqual([
      { depth: 2, index: 0 },
      { depth: 2, index: 1 },
      { depth: 2, index: 2 },
    ]);
  });
});

describe("tree diff", () => {
  const exact: DescentOptions = { levelsPerRound: 2, entryKeysMax: -1, hashBytes: 8 };

  it("stops at the root when the trees agree", () => {
    const leaves = Array.from({ length: 1365 }, (_, i) => digest(`k${i}`));
    const result = descend(new RangeHashTree(leaves), new RangeHashTree(leaves), exact);
    expect(result.leaves.size).toBe(0);
    expect(result.rounds).toBe(1);
  });

  it("finds exactly the differing leaves (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        (size, changes, levels) => {
          const base = Array.from({ length: size }, (_, i) =>
            i % 3 === 0 ? ZERO : digest(`base-${i}`),
          );
          const changed = new Set(changes.map((change) => change % size));
          const other = base.map((leaf, i) => (changed.has(i) ? digest(`changed-${i}`) : leaf));
          const result = descend(new RangeHashTree(base), new RangeHashTree(other), {
            ...exact,
            levelsPerRound: levels,
          });
          expect([...result.leaves].sort((a, b) => a - b)).toEqual(
            [...changed].sort((a, b) => a - b),
          );
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("switches to exchanging keys once a differing subtree holds few records, covering every differing leaf", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        (size, changes) => {
          const base = Array.from({ length: size }, (_, i) => digest(`b${i}`, 2));
          const changed = new Set(changes.map((change) => change % size));
          const other = base.map((leaf, i) => (changed.has(i) ? digest(`c${i}`, 2) : leaf));
          const result = descend(new RangeHashTree(base), new RangeHashTree(other), {
            levelsPerRound: 2,
            entryKeysMax: 8,
            hashBytes: 8,
          });
          for (const leaf of changed) expect(result.leaves.has(leaf)).toBe(true);
          // At most 8 records (4 leaves of 2) per exchanged subtree.
          expect(result.leaves.size).toBeLessThanOrEqual(changed.size * 4);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe("entry diff", () => {
  const version = fc
    .record({
      timestampUs: fc.integer({ min: 1, max: 3 }),
      writer: fc.constantFrom("a", "b"),
      value: fc.constantFrom("x", "y"),
      tombstone: fc.boolean(),
    })
    .map(({ timestampUs, writer, value, tombstone }): StoredRecord =>
      tombstone
        ? tombstoneRecord(timestampUs, writer)
        : { value: Buffer.from(value), contentType: "", timestampUs, writer, tombstone: false },
    );
  const side = fc.dictionary(fc.constantFrom("k1", "k2", "k3", "k4", "k5"), version);

  function entries(records: Record<string, StoredRecord>): VersionEntry[] {
    return Object.entries(records).map(([key, record]) => ({
      key,
      timestampUs: record.timestampUs,
      hash: createHash("sha256")
        .update(
          JSON.stringify([
            key,
            record.timestampUs,
            record.writer,
            record.tombstone,
            Buffer.from(record.value).toString("hex"),
          ]),
        )
        .digest(),
    }));
  }

  it("converges both sides under last write wins, tombstones included (property)", () => {
    fc.assert(
      fc.property(side, side, (own, peer) => {
        const { push, pull } = diffEntries(entries(own), entries(peer), 8);
        const merge = (
          into: Record<string, StoredRecord>,
          from: Record<string, StoredRecord>,
          keys: string[],
        ): Record<string, StoredRecord> => {
          const out = { ...into };
          for (const key of keys) {
            const incoming = from[key] as StoredRecord;
            const stored = out[key];
            if (stored === undefined || compareRecords(incoming, stored) > 0) out[key] = incoming;
          }
          return out;
        };
        const ownAfter = merge(own, peer, pull);
        const peerAfter = merge(peer, own, push);
        expect(entries(ownAfter)).toEqual(expect.arrayContaining(entries(peerAfter)));
        expect(Object.keys(ownAfter).sort()).toEqual(Object.keys(peerAfter).sort());
        // Nothing moves for keys both hold identically.
        for (const key of push)
          expect(JSON.stringify(own[key])).not.toBe(JSON.stringify(peer[key]));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("finds records that differ only in timestamp or only in tombstone", () => {
    const live: StoredRecord = {
      value: Buffer.from("v"),
      contentType: "",
      timestampUs: 5,
      writer: "a",
      tombstone: false,
    };
    const older = { ...live, timestampUs: 4 };
    expect(diffEntries(entries({ k: live }), entries({ k: older }), 8)).toEqual({
      push: ["k"],
      pull: [],
    });
    const dead = tombstoneRecord(5, "a");
    expect(diffEntries(entries({ k: live }), entries({ k: dead }), 8)).toEqual({
      push: ["k"],
      pull: ["k"],
    });
    expect(diffEntries(entries({ k: live }), entries({ k: live }), 8)).toEqual({
      push: [],
      pull: [],
    });
  });
});
