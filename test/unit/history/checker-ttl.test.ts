// The history checker (src/sim/history/checker.ts, expiry.ts) with time to live (issue 17 §3): a
// value written with ttlSeconds may read as "not found" once its expiry may have passed (allowing
// for the clocks' offsets), must still be read back while it is definitely live, and must never
// come back once it has definitely expired; expiry never brings an older value back; replicas
// agree on a value's expiry as on the value.

import { describe, expect, it } from "vitest";
import { read, write } from "../../support/history/ops.js";
import { checkHistory, type CheckResult } from "../../../src/sim/history/checker.js";
import type {
  ExpiryClocks,
  History,
  HistoryOp,
  ReadOp,
  ReplicaState,
  WriteOp,
} from "../../../src/sim/history/types.js";

/** Small offsets so the windows are easy to read: may expire from start + ttl − 200 ms. */
const CLOCKS: ExpiryClocks = { wallOffsetMaxMs: 100, stampLeadMaxMs: 50 };
/** Written at 1,000..1,010 ms with 2 s to live: may expire from 2,800, must by 3,260. */
const MAY_EXPIRE_FROM_MS = 2_800;
const MUST_EXPIRE_BY_MS = 3_260;

function ttlWrite(fields: Partial<WriteOp> = {}): WriteOp {
  return write({
    value: "w1:1",
    startMs: 1_000,
    endMs: 1_010,
    timestampUs: 1_000_000,
    ttlSeconds: 2,
    ...fields,
  });
}

/** A plain "not found" (no timestamp), as HTTP and the simulator record an expired value. */
function notFound(startMs: number, fields: Partial<ReadOp> = {}): ReadOp {
  return read({ startMs, endMs: startMs + 10, value: null, ...fields });
}

function valueRead(startMs: number, value: string, timestampUs: number): ReadOp {
  return read({ startMs, endMs: startMs + 10, value, timestampUs });
}

/** Final quorum reads from three nodes, long after every short expiry, all answering `fields`. */
function finals(fields: Partial<ReadOp>): ReadOp[] {
  return ["node1", "node2", "node3"].map((node) =>
    read({ worker: "final", node, startMs: 60_000, endMs: 60_010, ...fields }),
  );
}

/** Every replica holds the version: an expired value stays stored until the grace period ends. */
function stored(value: string, timestampUs: number): ReplicaState {
  const version = { timestampUs, writer: "node1", value, tombstone: false };
  return { key: "k", copies: ["node1", "node2", "node3"].map((node) => ({ node, version })) };
}

function check(
  ops: readonly HistoryOp[],
  finalReads: readonly ReadOp[],
  replicas: readonly ReplicaState[],
  clocks: ExpiryClocks = CLOCKS,
): CheckResult {
  const history: History = {
    name: "ttl",
    startedAt: "2026-01-01T00:00:00.000Z",
    ops,
    finalReads,
    replicas,
    events: [],
  };
  return checkHistory(history, { clocks });
}

const kinds = (result: CheckResult): string[] => result.violations.map((v) => v.kind);

describe("the history checker with time to live", () => {
  it("passes a value read while live, then not found once expired, to the final reads", () => {
    const written = ttlWrite();
    const ops = [written, valueRead(1_500, "w1:1", 1_000_000), notFound(MUST_EXPIRE_BY_MS)];
    const result = check(ops, finals({ value: null }), [stored("w1:1", 1_000_000)]);
    expect(result.violations).toEqual([]);
    expect(result.summary.quorumAckedWrites).toBe(1);
  });

  it("accepts either answer between the earliest and the latest possible expiry", () => {
    const ops = [
      ttlWrite(),
      notFound(MAY_EXPIRE_FROM_MS - 10),
      valueRead(MUST_EXPIRE_BY_MS - 1, "w1:1", 1_000_000),
    ];
    expect(check(ops, finals({ value: null }), [stored("w1:1", 1_000_000)]).violations).toEqual([]);
  });

  it("fails an expired value read long after its expiry: resurrected-expired-value", () => {
    const ops = [ttlWrite(), valueRead(5_000, "w1:1", 1_000_000)];
    const result = check(ops, finals({ value: "w1:1", timestampUs: 1_000_000 }), [
      stored("w1:1", 1_000_000),
    ]);
    expect(result.ok).toBe(false);
    expect(kinds(result)).toEqual(Array(4).fill("resurrected-expired-value"));
    const first = result.violations[0];
    expect(first?.ops).toEqual([ops[1]?.id, ops[0]?.id]);
    expect(first?.message).toMatch(/time to live 2 s.*started 1740 ms after its latest/);
  });

  it("allows for the clocks: the same late read passes when the offsets allowed are larger", () => {
    const ops = [ttlWrite(), valueRead(MUST_EXPIRE_BY_MS + 100, "w1:1", 1_000_000)];
    const replicas = [stored("w1:1", 1_000_000)];
    expect(kinds(check(ops, finals({ value: null }), replicas))).toEqual([
      "resurrected-expired-value",
    ]);
    const wide = { wallOffsetMaxMs: 500, stampLeadMaxMs: 500 };
    expect(check(ops, finals({ value: null }), replicas, wide).violations).toEqual([]);
    // A history carries its recorder's clocks, so it is judged the same when checked again offline.
    const recorded: History = {
      name: "ttl",
      startedAt: "2026-01-01T00:00:00.000Z",
      ops,
      finalReads: finals({ value: null }),
      replicas,
      events: [],
      clocks: wide,
    };
    expect(checkHistory(recorded).violations).toEqual([]);
    expect(kinds(checkHistory(recorded, { clocks: CLOCKS }))).toEqual([
      "resurrected-expired-value",
    ]);
  });

  it("holds a definitely live value to the usual promises: not found is a stale read", () => {
    const written = ttlWrite();
    const early = notFound(MAY_EXPIRE_FROM_MS - 20);
    const result = check([written, early], finals({ value: null }), [stored("w1:1", 1_000_000)]);
    expect(kinds(result)).toEqual(["stale-read"]);
    expect(result.violations[0]?.ops).toEqual([early.id, written.id]);
  });

  it("fails a long time to live read as not found at the end: lost-write", () => {
    const written = ttlWrite({ ttlSeconds: 3_600 });
    const result = check([written], finals({ value: null }), [stored("w1:1", 1_000_000)]);
    expect(kinds(result)).toEqual(Array(3).fill("lost-write"));
  });

  it("never lets expiry bring an older value back", () => {
    const older = write({ value: "w1:0", startMs: 0, endMs: 10, timestampUs: 500_000 });
    const ops = [older, ttlWrite(), valueRead(5_000, "w1:0", 500_000)];
    const result = check(ops, finals({ value: "w1:0", timestampUs: 500_000 }), [
      stored("w1:1", 1_000_000),
    ]);
    expect(kinds(result)).toEqual(["stale-read", ...Array(3).fill("lost-write")]);
    expect(result.violations[0]?.message).toMatch(
      /older than write #\d+ \("w1:1" at 1000000, time/,
    );
  });

  it("lets a newer unacknowledged write that expired explain not found, and only with a TTL", () => {
    const older = write({ value: "w1:0", startMs: 0, endMs: 10, timestampUs: 500_000 });
    const landed = { value: "w2:1", startMs: 100, endMs: 4_100, outcome: "indeterminate" as const };
    const replicas = [stored("w2:1", 600_000)];
    const expiring = write({ ...landed, ttlSeconds: 1 });
    expect(check([older, expiring], finals({ value: null }), replicas).violations).toEqual([]);
    const lasting = write(landed);
    expect(kinds(check([older, lasting], finals({ value: null }), replicas))).toEqual(
      Array(3).fill("lost-write"),
    );
  });

  it("does not judge an unacknowledged write's expiry late: its stamp may have come late", () => {
    const paused = ttlWrite({ outcome: "indeterminate", timestampUs: undefined });
    const ops = [paused, valueRead(5_000, "w1:1", 4_000_000)];
    expect(check(ops, finals({ value: null }), [stored("w1:1", 4_000_000)]).violations).toEqual([]);
  });

  it("fails replicas that hold the same value with different expiries: divergent-replicas", () => {
    const version = { timestampUs: 1_000_000, writer: "node1", value: "w1:1", tombstone: false };
    const copies = [
      { node: "node1", version: { ...version, expiresAtUs: 3_000_000 } },
      { node: "node2", version: { ...version, expiresAtUs: 3_000_000 } },
      { node: "node3", version },
    ];
    const result = check([ttlWrite()], finals({ value: null }), [{ key: "k", copies }]);
    expect(kinds(result)).toEqual(["divergent-replicas"]);
    expect(result.violations[0]?.message).toMatch(/node1="w1:1"@1000000 expiring 3000000/);
    const agreeing = copies.map(({ node }) => ({ node, version: copies[0]!.version }));
    expect(check([ttlWrite()], finals({ value: null }), [{ key: "k", copies: agreeing }]).ok).toBe(
      true,
    );
  });
});
