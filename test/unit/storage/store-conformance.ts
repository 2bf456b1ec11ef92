// The storage port's conformance suite (ARCHITECTURE §6.10): every Store implementation runs these
// same tests, as abstract-level's suite does for its stores. An implementation's test file calls
// describeStoreConformance with a harness that opens its store over storage that survives a close,
// so that a second open is a restart.
//
// Keys here carry their own token: "<16 hex digits>/<name>" is filed under that token, so ranges
// and ring order can be checked with tokens chosen on purpose (the edges of the ring, neighbours).

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { TOKEN_MAX, tokenToString, type Token } from "../../../src/ring/partitioner.js";
import {
  tombstoneRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../../../src/storage/record.js";
import { compareRecords, mergeRecords } from "../../../src/storage/record.js";
import {
  RecordDigest,
  SEGMENT_COUNT,
  segmentFirstToken,
  segmentLastToken,
  segmentOf,
} from "../../../src/storage/segments.js";
import {
  StoreClosedError,
  StoreOverloadedError,
  type Store,
  type StoreLimits,
} from "../../../src/storage/store.js";

export interface StoreHarnessOptions {
  readonly tokenOf: (key: string) => Token;
  readonly sync?: boolean;
  readonly tombstoneGraceUs?: number;
  readonly limits?: Partial<StoreLimits>;
}

export interface StoreHarness {
  /** Opens the store under test; an open after a close sees the same data, as a restart would. */
  open(options: StoreHarnessOptions): Promise<Store>;
  /** Closes whatever is still open and removes the storage. */
  dispose(): Promise<void>;
}

// Fixed so a failure reproduces; fast-check also prints the seed and the shrunk counterexample.
const PROPERTY_SEED = 20_240_611;

const HALF = 2n ** 63n;

/** A key filed under `token`. */
export function keyAt(token: Token, name: string): string {
  return `${tokenToString(token)}/${name}`;
}

/** The test partitioner: the token is the key's 16-hex-digit prefix. */
export function explicitTokenOf(key: string): Token {
  const match = /^([0-9a-f]{16})\//.exec(key);
  if (match === null)
    throw new Error(`test keys look like <16 hex digits>/<name>, got ${JSON.stringify(key)}`);
  return BigInt(`0x${match[1]}`);
}

function live(
  timestampUs: number,
  writer: string,
  value: string,
  contentType = "text/plain",
): StoredRecord {
  return { value: Buffer.from(value), contentType, timestampUs, writer, tombstone: false };
}

/** Comparable plain data (value as hex), or undefined. */
function plain(record: StoredRecord | undefined): object | undefined {
  return record === undefined
    ? undefined
    : { ...record, value: Buffer.from(record.value).toString("hex") };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * The reference range rule (ring/token-map.ts): (start, end] clockwise; start === end is
 * everything.
 */
function inRange(start: Token, end: Token, token: Token): boolean {
  if (start < end) return token > start && token <= end;
  return token > start || token <= end;
}

/** Ring order from just after `start`: the distance clockwise, then the key's UTF-8 bytes. */
function ringOrder(
  start: Token,
): (a: { token: Token; key: string }, b: { token: Token; key: string }) => number {
  const space = TOKEN_MAX + 1n;
  const distance = (token: Token): bigint => (token - start - 1n + space) % space;
  return (a, b) => {
    const da = distance(a.token);
    const db = distance(b.token);
    if (da !== db) return da < db ? -1 : 1;
    return Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));
  };
}

export function describeStoreConformance(
  name: string,
  makeHarness: () => Promise<StoreHarness>,
): void {
  describe(`${name} (store conformance)`, () => {
    let harness: StoreHarness;
    const open = (options: Partial<StoreHarnessOptions> = {}): Promise<Store> =>
      harness.open({ tokenOf: explicitTokenOf, ...options });

    beforeEach(async () => {
      harness = await makeHarness();
    });
    afterEach(async () => {
      await harness.dispose();
    });

    it("returns undefined for a key never written", async () => {
      const store = await open();
      expect(await store.get(keyAt(1n, "nothing"))).toBeUndefined();
    });

    it("gives back a record byte for byte: binary value, content type, timestamp, writer", async () => {
      const store = await open();
      const value = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
      const record: StoredRecord = {
        value,
        contentType: "application/octet-stream",
        timestampUs: 1_767_225_600_123_456,
        writer: "node-7",
        tombstone: false,
      };
      const empty = live(5, "node-7", "", "application/x-empty");
      expect(
        await store.apply([
          { key: keyAt(9n, "bin"), record },
          { key: keyAt(9n, "empty"), record: empty },
        ]),
      ).toEqual({
        written: 2,
        superseded: 0,
      });
      expect(plain(await store.get(keyAt(9n, "bin")))).toEqual(plain(record));
      expect(plain(await store.get(keyAt(9n, "empty")))).toEqual(plain(empty));
    });

    it("keeps the newest version whatever order the versions arrive in (property)", async () => {
      const store = await open();
      let run = 0;
      const version = fc
        .record({
          timestampUs: fc.integer({ min: 0, max: 4 }),
          writer: fc.constantFrom("node-a", "node-b"),
          value: fc.constantFrom("x", "y"),
          tombstone: fc.boolean(),
        })
        .map((v) =>
          v.tombstone
            ? tombstoneRecord(v.timestampUs, v.writer)
            : live(v.timestampUs, v.writer, v.value),
        );
      await fc.assert(
        fc.asyncProperty(
          fc.array(version, { minLength: 1, maxLength: 6 }),
          fc.boolean(),
          async (versions, oneBatch) => {
            const key = keyAt(BigInt(run) * 7919n, `run-${run}`);
            run += 1;
            if (oneBatch) {
              await Promise.all(versions.map((record) => store.apply([{ key, record }])));
            } else {
              for (const record of versions) await store.apply([{ key, record }]);
            }
            expect(plain(await store.get(key))).toEqual(plain(versions.reduce(mergeRecords)));
          },
        ),
        { seed: PROPERTY_SEED, numRuns: 40 },
      );
    });

    it("ends with the LWW winner when concurrent applies race on one key across event-loop turns", async () => {
      const store = await open();
      const key = keyAt(HALF, "contended");
      // Timestamps shuffled, two writers tying on each timestamp; the winner is (20, node-b).
      const pending: Promise<unknown>[] = [];
      const timestamps = [7, 20, 3, 11, 20, 1, 15, 9, 2, 18, 5];
      for (const [index, timestampUs] of timestamps.entries()) {
        for (const writer of ["node-a", "node-b"]) {
          pending.push(
            store.apply([{ key, record: live(timestampUs, writer, `${writer}@${timestampUs}`) }]),
          );
        }
        if (index % 3 === 0) await nextTurn();
      }
      await Promise.all(pending);
      expect(plain(await store.get(key))).toEqual(plain(live(20, "node-b", "node-b@20")));
    });

    it("merges two writes to one key in one apply and counts the loser as superseded", async () => {
      const store = await open();
      const key = keyAt(3n, "twice");
      const result = await store.apply([
        { key, record: live(10, "n", "newer") },
        { key, record: live(9, "n", "older") },
      ]);
      expect(result).toEqual({ written: 1, superseded: 1 });
      expect(Buffer.from((await store.get(key))?.value ?? []).toString()).toBe("newer");
    });

    it("counts a version already stored, or older than the stored one, as superseded", async () => {
      const store = await open();
      const key = keyAt(3n, "again");
      expect(await store.apply([{ key, record: live(10, "n", "v") }])).toEqual({
        written: 1,
        superseded: 0,
      });
      expect(await store.apply([{ key, record: live(10, "n", "v") }])).toEqual({
        written: 0,
        superseded: 1,
      });
      expect(await store.apply([{ key, record: live(9, "z", "old") }])).toEqual({
        written: 0,
        superseded: 1,
      });
      expect(plain(await store.get(key))).toEqual(plain(live(10, "n", "v")));
    });

    it("keeps a tombstone over an older value that arrives later", async () => {
      const store = await open();
      const key = keyAt(4n, "deleted");
      await store.apply([{ key, record: live(10, "n", "v") }]);
      await store.apply([{ key, record: tombstoneRecord(20, "n") }]);
      await store.apply([{ key, record: live(15, "m", "late") }]);
      expect(plain(await store.get(key))).toEqual(plain(tombstoneRecord(20, "n")));
    });

    describe("scanRange", () => {
      const tokens: Token[] = [
        0n,
        1n,
        2n,
        99n,
        100n,
        101n,
        HALF - 1n,
        HALF,
        HALF + 1n,
        TOKEN_MAX - 1n,
        TOKEN_MAX,
      ];
      const writes: KeyedRecord[] = tokens.flatMap((token, index) => [
        { key: keyAt(token, "a"), record: live(index + 1, "n", `a${index}`) },
        {
          key: keyAt(token, "b"),
          record:
            index % 4 === 0 ? tombstoneRecord(index + 1, "n") : live(index + 1, "n", `b${index}`),
        },
      ]);
      const ranges: [Token, Token][] = [
        [0n, 100n],
        [99n, 101n],
        [100n, HALF],
        [HALF, 1n], // wraps
        [TOKEN_MAX, 2n], // starts at the end of the ring
        [2n, TOKEN_MAX],
        [TOKEN_MAX - 1n, 0n], // wraps onto token 0 only
        [HALF, HALF], // the whole ring
        [0n, 0n], // the whole ring
        [50n, 60n], // empty
      ];

      it("returns exactly the records of (start, end], in ring order, for plain and wrapping ranges", async () => {
        const store = await open();
        await store.apply(writes);
        for (const [start, end] of ranges) {
          const scanned = await collect(store.scanRange({ start, end }, { batchSize: 3 }));
          const expected = writes
            .map((write) => ({ ...write, token: explicitTokenOf(write.key) }))
            .filter((write) => inRange(start, end, write.token))
            .sort(ringOrder(start));
          const label = `(${start}, ${end}]`;
          expect(
            scanned.map((entry) => entry.key),
            label,
          ).toEqual(expected.map((entry) => entry.key));
          expect(
            scanned.map((entry) => entry.token),
            label,
          ).toEqual(expected.map((entry) => entry.token));
          expect(
            scanned.map((entry) => plain(entry.record)),
            label,
          ).toEqual(expected.map((entry) => plain(entry.record)));
        }
      });

      it("resumes after any data key (afterKey): the rest of its token, then the rest of the range, each key once", async () => {
        // Range streaming's cursor (topology/stream.ts): from every position of every range, the
        // resumed scan is exactly the tail of the full scan.
        const store = await open();
        await store.apply(writes);
        for (const [start, end] of ranges) {
          const full = await collect(store.scanRange({ start, end }));
          for (const [index, entry] of full.entries()) {
            const rest = await collect(
              store.scanRange({ start: entry.token, end }, { afterKey: entry.key, batchSize: 2 }),
            );
            expect(
              rest.map((scanned) => scanned.key),
              `(${start}, ${end}] after ${entry.key}`,
            ).toEqual(full.slice(index + 1).map((scanned) => scanned.key));
          }
        }
      });

      it("stops at the limit, pages in batches of any size, and can leave tombstones out", async () => {
        const store = await open();
        await store.apply(writes);
        const whole = { start: 0n, end: 0n };
        const all = await collect(store.scanRange(whole));
        expect(all).toHaveLength(writes.length);
        for (const batchSize of [1, 2, 5, 10_000]) {
          expect(
            (await collect(store.scanRange(whole, { batchSize }))).map((entry) => entry.key),
          ).toEqual(all.map((entry) => entry.key));
        }
        expect(
          (await collect(store.scanRange(whole, { limit: 5, batchSize: 2 }))).map(
            (entry) => entry.key,
          ),
        ).toEqual(all.slice(0, 5).map((entry) => entry.key));
        expect(await collect(store.scanRange(whole, { limit: 0 }))).toEqual([]);
        const liveOnly = await collect(store.scanRange(whole, { tombstones: false }));
        expect(liveOnly.map((entry) => entry.key)).toEqual(
          all.filter((entry) => !entry.record.tombstone).map((entry) => entry.key),
        );
      });

      it("lets a consumer stop early without harming later scans or writes", async () => {
        const store = await open();
        await store.apply(writes);
        for await (const entry of store.scanRange({ start: 0n, end: 0n }, { batchSize: 2 })) {
          expect(entry.key).toBeTypeOf("string");
          break;
        }
        await store.apply([{ key: keyAt(5n, "after"), record: live(1, "n", "v") }]);
        expect(await collect(store.scanRange({ start: 4n, end: 5n }))).toHaveLength(1);
      });
    });

    describe("deleteRange", () => {
      it("deletes exactly the records of (start, end], tombstones included, and keeps the counts right", async () => {
        const tokens: Token[] = [0n, 5n, 10n, 11n, HALF, TOKEN_MAX];
        const writes: KeyedRecord[] = tokens.flatMap((token, index) => [
          { key: keyAt(token, "a"), record: live(index + 1, "n", "value") },
          { key: keyAt(token, "b"), record: tombstoneRecord(index + 1, "n") },
        ]);
        for (const [start, end] of [
          [4n, 10n],
          [HALF, 5n], // wraps
          [11n, 11n], // the whole ring
        ] as [Token, Token][]) {
          const store = await open();
          await store.apply(writes);
          const expected = writes.filter((write) =>
            inRange(start, end, explicitTokenOf(write.key)),
          );
          expect(await store.deleteRange({ start, end }), `(${start}, ${end}]`).toBe(
            expected.length,
          );
          const left = await collect(store.scanRange({ start: 0n, end: 0n }));
          expect(left.map((entry) => entry.key).sort()).toEqual(
            writes
              .filter((write) => !expected.includes(write))
              .map((write) => write.key)
              .sort(),
          );
          expect(store.load()).toMatchObject({
            keys: left.filter((entry) => !entry.record.tombstone).length,
            tombstones: left.filter((entry) => entry.record.tombstone).length,
          });
          await store.close();
        }
      });
    });

    describe("tombstone purge", () => {
      const graceUs = 1_000;

      it("purges a tombstone only once its grace period has passed", async () => {
        const store = await open({ tombstoneGraceUs: graceUs });
        const key = keyAt(8n, "gone");
        await store.apply([
          { key, record: tombstoneRecord(5_000, "n") },
          { key: keyAt(8n, "kept"), record: live(1, "n", "v") },
        ]);
        expect(await store.purgeTombstones(5_000 + graceUs)).toBe(0);
        expect((await store.get(key))?.tombstone).toBe(true);
        expect(await store.purgeTombstones(5_000 + graceUs + 1)).toBe(1);
        expect(await store.get(key)).toBeUndefined();
        // Values are never purged, however old.
        expect((await store.get(keyAt(8n, "kept")))?.tombstone).toBe(false);
        expect(store.load()).toMatchObject({ keys: 1, tombstones: 0 });
      });

      it("takes the grace period as an argument too", async () => {
        const store = await open();
        await store.apply([{ key: keyAt(8n, "gone"), record: tombstoneRecord(100, "n") }]);
        expect(await store.purgeTombstones(200, 100)).toBe(0);
        expect(await store.purgeTombstones(201, 100)).toBe(1);
      });

      it("never deletes a value written over a tombstone while the purge runs", async () => {
        const store = await open({ tombstoneGraceUs: graceUs });
        const keys = Array.from({ length: 3_000 }, (_, i) =>
          keyAt(BigInt(i) * 1_000_003n, `t${i}`),
        );
        await store.apply(keys.map((key) => ({ key, record: tombstoneRecord(10, "n") })));
        const revived = keys.filter((_, i) => i % 7 === 0);
        const purging = store.purgeTombstones(10 + graceUs + 1);
        const writing = store.apply(revived.map((key) => ({ key, record: live(50, "n", "back") })));
        const [purged] = await Promise.all([purging, writing]);
        for (const key of revived) expect((await store.get(key))?.tombstone, key).toBe(false);
        // A revived key's tombstone may have been purged just before its value landed; either way
        // it ends live.
        expect(purged).toBeGreaterThanOrEqual(keys.length - revived.length);
        expect(purged).toBeLessThanOrEqual(keys.length);
        expect(store.load()).toMatchObject({ keys: revived.length, tombstones: 0 });
      });
    });

    it("counts live keys, tombstones and bytes, and keeps the counts across a reopen", async () => {
      const store = await open();
      expect(store.load()).toEqual({ keys: 0, tombstones: 0, bytes: 0 });
      await store.apply([
        { key: keyAt(1n, "a"), record: live(1, "n", "v") },
        { key: keyAt(2n, "b"), record: live(1, "n", "v") },
        { key: keyAt(3n, "c"), record: tombstoneRecord(1, "n") },
      ]);
      const first = store.load();
      expect(first).toMatchObject({ keys: 2, tombstones: 1 });
      expect(first.bytes).toBeGreaterThan(0);
      await store.apply([{ key: keyAt(1n, "a"), record: tombstoneRecord(2, "n") }]);
      expect(store.load()).toMatchObject({ keys: 1, tombstones: 2 });
      await store.apply([
        { key: keyAt(1n, "a"), record: live(3, "n", "a much longer value than before") },
      ]);
      const grown = store.load();
      expect(grown).toMatchObject({ keys: 2, tombstones: 1 });
      expect(grown.bytes).toBeGreaterThan(first.bytes);
      await store.close();
      const reopened = await open();
      expect(reopened.load()).toEqual(grown);
    });

    it("keeps its data across a close and reopen", async () => {
      const store = await open();
      const writes = Array.from({ length: 50 }, (_, i) => ({
        key: keyAt(BigInt(i), `k${i}`),
        record: live(i + 1, "n", `v${i}`),
      }));
      await store.apply(writes);
      await store.close();
      const reopened = await open();
      for (const write of writes)
        expect(plain(await reopened.get(write.key))).toEqual(plain(write.record));
    });

    it("with sync on, acknowledges writes that a reopen reads back", async () => {
      const store = await open({ sync: true });
      const writes = Array.from({ length: 20 }, (_, i) => ({
        key: keyAt(BigInt(i) << 40n, `s${i}`),
        record: live(7, "n", `v${i}`),
      }));
      const results = await Promise.all(writes.map((write) => store.apply([write])));
      expect(results.every((result) => result.written === 1)).toBe(true);
      await store.close();
      const reopened = await open({ sync: true });
      for (const write of writes)
        expect(plain(await reopened.get(write.key))).toEqual(plain(write.record));
    });

    it("splits an apply larger than one batch and still commits all of it", async () => {
      const store = await open({ limits: { recordsPerBatchMax: 3, bytesPerBatchMax: 200 } });
      const writes = Array.from({ length: 25 }, (_, i) => ({
        key: keyAt(BigInt(i), `big${i}`),
        record: live(1, "n", "x".repeat(i * 10)), // some larger than bytesPerBatchMax alone
      }));
      expect(await store.apply(writes)).toEqual({ written: 25, superseded: 0 });
      for (const write of writes)
        expect(plain(await store.get(write.key))).toEqual(plain(write.record));
    });

    it("refuses a write past the queue bound with StoreOverloadedError and keeps the admitted ones", async () => {
      const store = await open({ limits: { queuedWritesMax: 4 } });
      const admitted = store.apply(
        [1, 2, 3].map((i) => ({ key: keyAt(BigInt(i), "q"), record: live(1, "n", "v") })),
      );
      const refused = store.apply(
        [4, 5].map((i) => ({ key: keyAt(BigInt(i), "q"), record: live(1, "n", "v") })),
      );
      await expect(refused).rejects.toBeInstanceOf(StoreOverloadedError);
      await expect(refused).rejects.toMatchObject({ limit: "queuedWritesMax" });
      expect(await admitted).toEqual({ written: 3, superseded: 0 });
      // Once the queue drained, writes are admitted again.
      expect(await store.apply([{ key: keyAt(4n, "q"), record: live(1, "n", "v") }])).toEqual({
        written: 1,
        superseded: 0,
      });
    });

    it("refuses a write past the queued-bytes bound, but always admits into an empty queue", async () => {
      const store = await open({ limits: { queuedBytesMax: 100 } });
      const large = store.apply([
        { key: keyAt(1n, "large"), record: live(1, "n", "x".repeat(500)) },
      ]);
      const next = store.apply([{ key: keyAt(2n, "small"), record: live(1, "n", "y") }]);
      await expect(next).rejects.toMatchObject({ limit: "queuedBytesMax" });
      expect(await large).toEqual({ written: 1, superseded: 0 });
    });

    describe("segment hashes", () => {
      // Tokens in the first, a middle and the last segment, two keys apiece.
      const SEGMENTS = [0, 5, SEGMENT_COUNT - 1];
      const tokensOf = (segment: number): Token[] => [
        segmentFirstToken(segment) + 3n,
        segmentLastToken(segment),
      ];

      /** The digest of a segment recomputed from its records: what the kept hash must equal. */
      async function recount(
        store: Store,
        segment: number,
      ): Promise<{ hash: string; count: number }> {
        const scan = await store.scanHashed(
          segmentFirstToken(segment),
          segmentLastToken(segment),
          1_000_000,
        );
        const digest = new RecordDigest();
        for (const entry of scan.entries) digest.addHash(entry.hash);
        return { hash: digest.hash().toString("hex"), count: digest.count };
      }

      function kept(store: Store, segment: number): { hash: string; count: number } {
        return {
          hash: store.segments().hashOf(segment).toString("hex"),
          count: store.segments().countOf(segment),
        };
      }

      const ZERO = "0".repeat(32);

      it("keeps each segment's hash equal to the digest of its records through overwrites, deletes, deleteRange and purges", async () => {
        const store = await open({ tombstoneGraceUs: 10 });
        const writes: KeyedRecord[] = [];
        for (const segment of SEGMENTS) {
          for (const token of tokensOf(segment)) {
            writes.push(
              { key: keyAt(token, "a"), record: live(1, "n", "v1") },
              { key: keyAt(token, "b"), record: live(2, "n", "w") },
            );
          }
        }
        await store.apply(writes);
        for (const segment of SEGMENTS) {
          expect(kept(store, segment)).toEqual(await recount(store, segment));
          expect(kept(store, segment).count).toBe(4);
        }
        const before = kept(store, 5);
        // An overwrite replaces the old record's hash; a delete is a tombstone and still counts.
        const [first, last] = tokensOf(5) as [Token, Token];
        await store.apply([{ key: keyAt(first, "a"), record: live(3, "n", "v2") }]);
        await store.apply([{ key: keyAt(last, "b"), record: tombstoneRecord(4, "n") }]);
        expect(kept(store, 5)).toEqual(await recount(store, 5));
        expect(kept(store, 5).hash).not.toBe(before.hash);
        expect(kept(store, 5).count).toBe(4);
        // A purged tombstone leaves the segment's hash.
        expect(await store.purgeTombstones(1_000)).toBe(1);
        expect(kept(store, 5)).toEqual(await recount(store, 5));
        expect(kept(store, 5).count).toBe(3);
        // deleteRange empties the segments it covers, and only those.
        const otherBefore = kept(store, 0);
        await store.deleteRange({
          start: segmentFirstToken(5) - 1n,
          end: segmentLastToken(SEGMENT_COUNT - 1),
        });
        expect(kept(store, 5)).toEqual({ hash: ZERO, count: 0 });
        expect(kept(store, SEGMENT_COUNT - 1)).toEqual({ hash: ZERO, count: 0 });
        expect(kept(store, 0)).toEqual(otherBefore);
      });

      it("gives the same segment hashes whatever order and batching the writes arrive in (property)", async () => {
        const store = await open();
        const whole = { start: 0n, end: 0n };
        const version = fc.record({
          segment: fc.constantFrom(...SEGMENTS),
          name: fc.constantFrom("p", "q", "r"),
          timestampUs: fc.integer({ min: 1, max: 5 }),
          value: fc.constantFrom("x", "y"),
          tombstone: fc.boolean(),
        });
        const asWrite = (v: {
          segment: number;
          name: string;
          timestampUs: number;
          value: string;
          tombstone: boolean;
        }): KeyedRecord => ({
          key: keyAt(segmentFirstToken(v.segment) + 9n, v.name),
          record: v.tombstone
            ? tombstoneRecord(v.timestampUs, "n")
            : live(v.timestampUs, "n", v.value),
        });
        await fc.assert(
          fc.asyncProperty(
            fc.array(version, { minLength: 1, maxLength: 12 }),
            fc.integer(),
            async (versions, shuffleSeed) => {
              const writes = versions.map(asWrite);
              await store.deleteRange(whole);
              for (const segment of SEGMENTS)
                expect(kept(store, segment)).toEqual({ hash: ZERO, count: 0 });
              await store.apply(writes);
              const inOneBatch = SEGMENTS.map((segment) => kept(store, segment));
              await store.deleteRange(whole);
              // The same writes one by one, across event-loop turns, in a shuffled order.
              const shuffled = [...writes];
              let state = shuffleSeed >>> 0;
              for (let i = shuffled.length - 1; i > 0; i--) {
                state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
                const j = state % (i + 1);
                [shuffled[i], shuffled[j]] = [
                  shuffled[j] as KeyedRecord,
                  shuffled[i] as KeyedRecord,
                ];
              }
              for (const write of shuffled) {
                await store.apply([write]);
                await nextTurn();
              }
              expect(SEGMENTS.map((segment) => kept(store, segment))).toEqual(inOneBatch);
              for (const segment of SEGMENTS)
                expect(kept(store, segment)).toEqual(await recount(store, segment));
            },
          ),
          { numRuns: 40, seed: PROPERTY_SEED },
        );
      });

      it("finds records that differ only in timestamp, only in tombstone, or only in value", async () => {
        const store = await open();
        const key = keyAt(segmentFirstToken(5) + 1n, "k");
        const hashWith = async (record: StoredRecord): Promise<string> => {
          await store.deleteRange({ start: 0n, end: 0n });
          await store.apply([{ key, record }]);
          return kept(store, 5).hash;
        };
        const base = await hashWith(live(10, "n", "v", ""));
        const hashes = [
          base,
          await hashWith(live(11, "n", "v", "")),
          await hashWith(tombstoneRecord(10, "n")),
          await hashWith(live(10, "n", "w", "")),
          await hashWith(live(10, "m", "v", "")),
        ];
        expect(new Set(hashes).size).toBe(hashes.length);
        expect(await hashWith(live(10, "n", "v", ""))).toBe(base);
      });

      it("keeps segment hashes across a close and reopen, without a rescan", async () => {
        const store = await open();
        await store.apply(
          SEGMENTS.flatMap((segment) =>
            tokensOf(segment).map((token) => ({
              key: keyAt(token, "s"),
              record: live(7, "n", "v"),
            })),
          ),
        );
        const before = SEGMENTS.map((segment) => kept(store, segment));
        await store.close();
        const reopened = await open();
        expect(SEGMENTS.map((segment) => kept(reopened, segment))).toEqual(before);
        expect(segmentOf(segmentLastToken(SEGMENT_COUNT - 1))).toBe(SEGMENT_COUNT - 1);
      });

      it("truncates scanHashed at its limit and says so", async () => {
        const store = await open();
        const token = segmentFirstToken(5) + 1n;
        await store.apply(
          ["a", "b", "c"].map((name) => ({ key: keyAt(token, name), record: live(1, "n", name) })),
        );
        const limited = await store.scanHashed(token, token, 2);
        expect(limited.entries.map((entry) => entry.key)).toEqual([
          keyAt(token, "a"),
          keyAt(token, "b"),
        ]);
        expect(limited.truncated).toBe(true);
        const all = await store.scanHashed(token, token, 3);
        expect(all.truncated).toBe(false);
        expect(all.entries).toHaveLength(3);
      });
    });

    it("commits queued writes before it closes, then refuses with StoreClosedError", async () => {
      const store = await open();
      const key = keyAt(6n, "last");
      const pending = store.apply([{ key, record: live(1, "n", "v") }]);
      const closing = store.close();
      expect(await pending).toEqual({ written: 1, superseded: 0 });
      await closing;
      await expect(store.apply([{ key, record: live(2, "n", "w") }])).rejects.toBeInstanceOf(
        StoreClosedError,
      );
      await expect(store.get(key)).rejects.toBeInstanceOf(StoreClosedError);
      await store.close(); // idempotent
      const reopened = await open();
      expect(compareRecords((await reopened.get(key)) as StoredRecord, live(1, "n", "v"))).toBe(0);
    });
  });
}
