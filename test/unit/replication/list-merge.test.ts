import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { tokenOf } from "../../../src/ring/partitioner.js";
import { storedKeyOf } from "../../../src/storage/bucket-keys.js";
import type { BucketScanEntry, BucketScanPage } from "../../../src/storage/bucket-scan.js";
import { comparePositions, ListMerge } from "../../../src/replication/list-merge.js";

const BUCKET = "photos";

function entry(
  key: string,
  timestampUs: number,
  tombstone = false,
  writer = "n1",
): BucketScanEntry {
  return { key, token: tokenOf(storedKeyOf(BUCKET, key)), timestampUs, writer, tombstone };
}

function position(key: string) {
  const storedKey = storedKeyOf(BUCKET, key);
  return { token: tokenOf(storedKey), storedKey };
}

function inOrder(entries: BucketScanEntry[]): BucketScanEntry[] {
  return [...entries].sort((a, b) => comparePositions(position(a.key), position(b.key)));
}

/** Serves a replica's sorted entries page by page, as bucket-scan would. */
function pager(entries: BucketScanEntry[], pageKeys: number) {
  const sorted = inOrder(entries);
  return (after: ReturnType<typeof position> | null): BucketScanPage => {
    const rest = sorted.filter(
      (e) => after === null || comparePositions(position(e.key), after) > 0,
    );
    const page = rest.slice(0, pageKeys);
    const last = page.at(-1);
    const more = rest.length > pageKeys && last !== undefined;
    return { entries: page, reached: more ? position(last.key) : null, visited: page.length };
  };
}

function drain(merge: ListMerge, replicas: Map<string, ReturnType<typeof pager>>): string[] {
  const listed: string[] = [];
  let rounds = 0;
  while (!merge.done()) {
    for (const node of merge.wants()) {
      const serve = replicas.get(node);
      if (serve === undefined) throw new Error(`no replica ${node}`);
      merge.receive(node, serve(merge.resumeAfter(node)));
    }
    listed.push(...merge.take().map((k) => k.key));
    rounds += 1;
    if (rounds > 10_000) throw new Error("the merge does not advance");
  }
  return listed;
}

describe("ListMerge", () => {
  it("lists each key once in token order, the newest version deciding, deletes dropped", () => {
    const a = [entry("k1", 10), entry("k2", 10), entry("k3", 30, true), entry("k4", 10)];
    const b = [entry("k2", 20, true), entry("k3", 20), entry("k5", 5)];
    const merge = new ListMerge(BUCKET, ["a", "b"], null);
    const listed = drain(
      merge,
      new Map([
        ["a", pager(a, 1)],
        ["b", pager(b, 2)],
      ]),
    );
    const expected = inOrder([entry("k1", 0), entry("k4", 0), entry("k5", 0)]).map((e) => e.key);
    expect(listed).toEqual(expected);
  });

  it("holds back a key until every replica has looked past it", () => {
    const merge = new ListMerge(BUCKET, ["a", "b"], null);
    const [first, second] = inOrder([entry("x", 1), entry("y", 1)]);
    if (first === undefined || second === undefined) throw new Error("two keys");
    merge.receive("a", { entries: [first, second], reached: null });
    merge.receive("b", { entries: [], reached: position(first.key) });
    expect(merge.take().map((k) => k.key)).toEqual([first.key]);
    expect(merge.wants()).toEqual(["b"]);
    expect(merge.resumeAfter("b")).toEqual(position(first.key));
    merge.receive("b", {
      entries: [{ ...second, timestampUs: 5, tombstone: true }],
      reached: null,
    });
    expect(merge.take()).toEqual([]);
    expect(merge.done()).toBe(true);
  });

  it("a tombstone wins a tie of timestamp and writer", () => {
    const merge = new ListMerge(BUCKET, ["a", "b"], null);
    merge.receive("a", { entries: [entry("k", 7)], reached: null });
    merge.receive("b", { entries: [entry("k", 7, true)], reached: null });
    expect(merge.take()).toEqual([]);
  });

  it("a substitute replica starts where the emitted keys end", () => {
    const all = inOrder(Array.from({ length: 10 }, (_, i) => entry(`k${i}`, 1)));
    const merge = new ListMerge(BUCKET, ["a", "b"], null);
    const serve = pager(all, 3);
    merge.receive("a", serve(null));
    merge.receive("b", serve(null));
    const firstKeys = merge.take().map((k) => k.key);
    expect(firstKeys).toEqual(all.slice(0, 3).map((e) => e.key));
    merge.replace("b", "c");
    expect(merge.resumeAfter("c")).toEqual(position(firstKeys.at(-1) ?? ""));
    const rest = drain(
      merge,
      new Map([
        ["a", serve],
        ["c", serve],
      ]),
    );
    expect([...firstKeys, ...rest]).toEqual(all.map((e) => e.key));
  });

  it("refuses a page that goes backwards or does not move", () => {
    const merge = new ListMerge(BUCKET, ["a"], position("k"));
    expect(() => merge.receive("a", { entries: [], reached: position("k") })).toThrow(/forward/);
    const [low, high] = inOrder([entry("p", 1), entry("q", 1)]);
    if (low === undefined || high === undefined) throw new Error("two keys");
    const fresh = new ListMerge(BUCKET, ["a"], null);
    expect(() => fresh.receive("a", { entries: [high, low], reached: null })).toThrow(/order/);
  });

  it("lists exactly the keys whose newest version is live, for any replicas and page sizes", () => {
    const version = fc.record({
      key: fc.integer({ min: 0, max: 40 }).map((i) => `key-${i}`),
      timestampUs: fc.integer({ min: 1, max: 50 }),
      tombstone: fc.boolean(),
      writer: fc.constantFrom("n1", "n2"),
    });
    const replica = fc.uniqueArray(version, { selector: (v) => v.key, maxLength: 30 });
    fc.assert(
      fc.property(
        fc.array(replica, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 5 }),
        (replicas, pageKeys) => {
          const nodes = replicas.map((_, i) => `r${i}`);
          const merge = new ListMerge(BUCKET, nodes, null);
          const served = new Map(
            replicas.map((versions, i) => [
              `r${i}`,
              pager(
                versions.map((v) => entry(v.key, v.timestampUs, v.tombstone, v.writer)),
                pageKeys,
              ),
            ]),
          );
          const listed = drain(merge, served);
          const newest = new Map<string, BucketScanEntry>();
          for (const versions of replicas)
            for (const v of versions) {
              const e = entry(v.key, v.timestampUs, v.tombstone, v.writer);
              const held = newest.get(v.key);
              const wins =
                held === undefined ||
                e.timestampUs > held.timestampUs ||
                (e.timestampUs === held.timestampUs &&
                  (e.writer > held.writer || (e.writer === held.writer && e.tombstone)));
              if (wins) newest.set(v.key, e);
            }
          const live = inOrder([...newest.values()].filter((e) => !e.tombstone));
          expect(listed).toEqual(live.map((e) => e.key));
        },
      ),
    );
  });
});
