import { describe, expect, it } from "vitest";
import { GrapevineError } from "../../../src/core/errors.js";
import { tokenOf, TOKEN_MAX, type Token } from "../../../src/ring/partitioner.js";
import { rangeContains, TokenMap } from "../../../src/ring/token-map.js";
import { KeyLister, pieceAt, type KeyListerDeps } from "../../../src/replication/key-lister.js";
import { comparePositions } from "../../../src/replication/list-merge.js";
import { storedKeyOf } from "../../../src/storage/bucket-keys.js";
import type {
  BucketScanEntry,
  BucketScanPage,
  BucketScanRequest,
} from "../../../src/storage/bucket-scan.js";

const BUCKET = "photos";
const NODES = ["n1", "n2", "n3"];

function ring(): TokenMap {
  const step = TOKEN_MAX / 12n;
  return TokenMap.build(
    new Map(NODES.map((node, i) => [node, [0, 1, 2, 3].map((j) => BigInt(j * 3 + i) * step + 7n)])),
  );
}

function position(key: string) {
  const storedKey = storedKeyOf(BUCKET, key);
  return { token: tokenOf(storedKey), storedKey };
}

/** One replica's store: key → version, scanned like storage/bucket-scan.ts. */
class FakeReplica {
  readonly versions = new Map<string, BucketScanEntry>();

  put(key: string, timestampUs: number, tombstone = false): void {
    this.versions.set(key, {
      key,
      token: position(key).token,
      timestampUs,
      writer: "n1",
      tombstone,
    });
  }

  page(request: BucketScanRequest): BucketScanPage {
    const { range, after, keysMax } = request;
    const inRange = [...this.versions.values()]
      .filter((entry) => rangeContains(range, entry.token))
      .filter((entry) => after === null || comparePositions(position(entry.key), after) > 0)
      .sort((a, b) => comparePositions(position(a.key), position(b.key)));
    const entries = inRange.slice(0, keysMax);
    const last = entries.at(-1);
    const more = inRange.length > keysMax && last !== undefined;
    return { entries, reached: more ? position(last.key) : null, visited: entries.length };
  }
}

interface Harness {
  readonly replicas: Map<string, FakeReplica>;
  readonly asked: string[];
  readonly failing: Set<string>;
  readonly lister: KeyLister;
}

function harness(overrides: Partial<KeyListerDeps> = {}): Harness {
  const replicas = new Map(NODES.map((node) => [node, new FakeReplica()]));
  const asked: string[] = [];
  const failing = new Set<string>();
  const lister = new KeyLister({
    self: "n1",
    replicationFactor: 3,
    ring,
    isLive: () => true,
    transport: {
      page: async (node, request) => {
        asked.push(node);
        if (failing.has(node)) throw new Error(`${node} is down`);
        const replica = replicas.get(node);
        if (replica === undefined) throw new Error(`no replica ${node}`);
        return replica.page(request);
      },
    },
    ...overrides,
  });
  return { replicas, asked, failing, lister };
}

async function collect(
  lister: KeyLister,
  level: "one" | "quorum" | "all",
  after: string | null = null,
  pageKeysMax = 3,
): Promise<string[]> {
  const keys: string[] = [];
  const request = { bucket: BUCKET, after: after === null ? null : position(after), level };
  for await (const merged of lister.keys({ ...request, pageKeysMax })) keys.push(merged.key);
  return keys;
}

function tokenOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => comparePositions(position(a), position(b)));
}

describe("KeyLister", () => {
  it("cuts the ring into pieces in token order, the wrapping range into its two halves", () => {
    const map = ring();
    const first = map.tokens()[0] as Token;
    expect(pieceAt(map, 0n, 3).range).toEqual({ start: TOKEN_MAX, end: first });
    const last = map.tokens().at(-1) as Token;
    expect(pieceAt(map, last + 1n, 3).range).toEqual({ start: last, end: TOKEN_MAX });
    expect(pieceAt(map, first + 1n, 3).range).toEqual({ start: first, end: map.tokens()[1] });
  });

  it("lists each key whose newest version is live once, in token order, merging replicas", async () => {
    const { replicas, lister } = harness();
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    keys.forEach((key, i) => {
      // Each write reached two replicas of three, a different pair each time.
      NODES.filter((_, n) => n !== i % 3).forEach((node) => replicas.get(node)?.put(key, 10));
    });
    const deleted = keys.filter((_, i) => i % 4 === 0);
    for (const key of deleted) {
      replicas.get("n2")?.put(key, 20, true);
      replicas.get("n3")?.put(key, 20, true);
    }
    const live = tokenOrder(keys.filter((key) => !deleted.includes(key)));
    expect(await collect(lister, "quorum")).toEqual(live);
    expect(await collect(lister, "all")).toEqual(live);
    const middle = live[25] as string;
    expect(await collect(lister, "quorum", middle)).toEqual(live.slice(26));
    expect(await collect(lister, "quorum", live.at(-1) ?? "", 1)).toEqual([]);
  });

  it("stands another live replica in for one that fails, and fails when none is left", async () => {
    const { replicas, failing, lister } = harness();
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const key of keys) for (const replica of replicas.values()) replica.put(key, 1);
    failing.add("n2");
    expect(await collect(lister, "quorum")).toEqual(tokenOrder(keys));
    await expect(collect(lister, "all")).rejects.toMatchObject({ code: "unavailable" });
  });

  it("refuses before listing when a range has fewer live replicas than the level", () => {
    const { lister } = harness({ isLive: (node) => node === "n1" });
    expect(() => lister.checkAvailable("one")).not.toThrow();
    let refusal: unknown = null;
    try {
      lister.checkAvailable("quorum");
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(GrapevineError);
    expect(refusal).toMatchObject({ code: "unavailable", details: { required: 2, alive: 1 } });
  });

  it("reads no page of its own store while crash recovery repairs it", async () => {
    const { replicas, asked, lister } = harness({ localReadable: () => false });
    for (const replica of replicas.values()) replica.put("k", 1);
    expect(await collect(lister, "quorum")).toEqual(["k"]);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked).not.toContain("n1");
  });
});
