// Reading many pieces through a few shared iterators (range-trees.ts scanPieces) gives each piece
// exactly what scanning it alone gives: the same records, hashes and order, and null for a piece
// over its limit, whatever the pieces' order, overlaps and gaps.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRandom, randomInt, type Random } from "../../../src/core/random.js";
import {
  scanPieces,
  PIECE_SCAN_LIMITS,
  type TokenPiece,
} from "../../../src/antientropy/range-trees.js";
import { segmentFirstToken, SEGMENT_SPAN } from "../../../src/storage/segments.js";
import type { KeyedRecord } from "../../../src/storage/record.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";

const SEED = 4_2026;
/** Records crowded into the first segments, so pieces share segments, gaps are short and long. */
const SEGMENTS_USED = 64;
const RECORDS = 6_000;

let store: LevelStore;
let dataDir: string;
const tokens = new Map<string, bigint>();

function tokenIn(random: Random, segment: number): bigint {
  // Offsets within the segment from a few coarse steps, so pieces can start and end between
  // records.
  return (
    segmentFirstToken(segment) + (BigInt(randomInt(random, 1 << 20)) * SEGMENT_SPAN) / (1n << 20n)
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-range-trees-"));
  store = await openLevelStore(
    { dataDir, sync: false },
    { tokenOf: (key) => tokens.get(key) ?? 0n },
  );
  const random = createRandom(SEED);
  const writes: KeyedRecord[] = [];
  for (let i = 0; i < RECORDS; i++) {
    // Most segments hold ~50 records, a few hold ~1,000 (a gap too long to step over).
    const segment = i % 10 === 0 ? randomInt(random, 4) * 16 : randomInt(random, SEGMENTS_USED);
    const key = `k${i}`;
    tokens.set(key, tokenIn(random, segment));
    const tombstone = i % 7 === 0;
    writes.push({
      key,
      record: {
        value: Buffer.from(tombstone ? "" : `v${i}`),
        contentType: "",
        timestampUs: 1 + i,
        writer: "n",
        tombstone,
      },
    });
  }
  await store.apply(writes);
});

afterAll(async () => {
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

function randomPiece(random: Random): TokenPiece {
  const a = tokenIn(random, randomInt(random, SEGMENTS_USED + 2));
  const b =
    randomInt(random, 3) === 0
      ? tokenIn(random, randomInt(random, SEGMENTS_USED + 2))
      : a + BigInt(randomInt(random, 1 << 30)) * 1_000_000n;
  return a <= b ? { first: a, last: b } : { first: b, last: a };
}

describe("scanPieces", () => {
  it("gives every piece what scanning it alone gives, null past the limit (seeded)", async () => {
    console.log(`range-trees scanPieces seed ${SEED}`);
    const random = createRandom(SEED + 1);
    for (let round = 0; round < 25; round++) {
      const pieces = Array.from({ length: 1 + randomInt(random, 60) }, () => randomPiece(random));
      const limit = [5, 50, 500, 10_000][randomInt(random, 4)] as number;
      const together = await scanPieces(store, pieces, limit);
      expect(together).toHaveLength(pieces.length);
      for (let index = 0; index < pieces.length; index++) {
        const piece = pieces[index] as TokenPiece;
        const alone = await store.scanHashed(piece.first, piece.last, limit);
        const got = together[index];
        if (alone.truncated) {
          expect(got, `round ${round} piece ${index}`).toBeNull();
          continue;
        }
        expect(got, `round ${round} piece ${index}`).not.toBeNull();
        expect(
          got?.map((entry) => [
            entry.key,
            entry.token,
            entry.timestampUs,
            entry.hash.toString("hex"),
          ]),
        ).toEqual(
          alone.entries.map((entry) => [
            entry.key,
            entry.token,
            entry.timestampUs,
            entry.hash.toString("hex"),
          ]),
        );
      }
    }
  });

  it("reads neighbouring pieces with one iterator and far ones apart", async () => {
    let scans = 0;
    const counting = {
      segments: () => store.segments(),
      scanHashed: (...args: Parameters<LevelStore["scanHashed"]>) => {
        scans += 1;
        return store.scanHashed(...args);
      },
    };
    // Ten pieces, the first quarters of ten adjacent segments (~85 records each): one group.
    const near = Array.from({ length: 10 }, (_, i) => ({
      first: segmentFirstToken(20 + i),
      last: segmentFirstToken(20 + i) + SEGMENT_SPAN / 4n,
    }));
    await scanPieces(counting, near, 10_000);
    expect(scans).toBe(1);
    // Segment 0 and segment 63 with 62 segments of records between them: more than a gap may hold.
    expect(62 * 80).toBeGreaterThan(PIECE_SCAN_LIMITS.gapRecordsMax);
    scans = 0;
    await scanPieces(
      counting,
      [
        { first: segmentFirstToken(0), last: segmentFirstToken(0) + 10n },
        { first: segmentFirstToken(63), last: segmentFirstToken(63) + 10n },
      ],
      10_000,
    );
    expect(scans).toBe(2);
  });
});
