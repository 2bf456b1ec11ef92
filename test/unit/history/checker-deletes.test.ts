// The history checker (src/sim/history/checker.ts) with deletes: a delete is a write of a tombstone
// (value null); a read may see a tombstone with its timestamp (the simulator) or a plain "not
// found" (HTTP). Each check keeps its meaning: a tombstone is a version, "not found" needs a delete
// to explain it, and a tombstone must trace back to a delete of its key.

import { describe, expect, it } from "vitest";
import { read, write } from "../../support/history/ops.js";
import { checkHistory, formatSummary } from "../../../src/sim/history/checker.js";
import type {
  History,
  HistoryOp,
  ReadOp,
  ReplicaState,
  WriteOp,
} from "../../../src/sim/history/types.js";

function del(fields: Partial<WriteOp> & Pick<WriteOp, "startMs" | "endMs">): WriteOp {
  return write({ value: null, ...fields });
}

/** Final quorum reads from three nodes, all returning the same thing. */
function finals(fields: Partial<ReadOp>): ReadOp[] {
  return ["node1", "node2", "node3"].map((node) =>
    read({ worker: "final", node, startMs: 1_000, endMs: 1_010, ...fields }),
  );
}

/** A replica's copy: a value, "tombstone", or null for none. */
type Copy = readonly [node: string, value: string | null, timestampUs: number];

function replicas(key: string, ...versions: Copy[]): ReplicaState {
  return {
    key,
    copies: versions.map(([node, value, timestampUs]) => ({
      node,
      version:
        value === null
          ? null
          : {
              timestampUs,
              writer: "node1",
              value: value === "tombstone" ? "" : value,
              tombstone: value === "tombstone",
            },
    })),
  };
}

const tombstones = (at: number): ReplicaState =>
  replicas("k", ["node1", "tombstone", at], ["node2", "tombstone", at], ["node3", "tombstone", at]);

function history(
  ops: readonly HistoryOp[],
  finalReads: readonly ReadOp[],
  states: readonly ReplicaState[],
): History {
  return {
    name: "deletes",
    startedAt: "2026-01-01T00:00:00.000Z",
    ops,
    finalReads,
    replicas: states,
    events: [],
  };
}

const kinds = (h: History): string[] =>
  checkHistory(h)
    .violations.map((violation) => violation.kind)
    .sort();

/** A value written then deleted, both acknowledged at quorum. */
function deletedRun(): WriteOp[] {
  return [
    write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 }),
    del({ startMs: 20, endMs: 30, timestampUs: 2_000 }),
  ];
}

describe("the history checker with deletes", () => {
  it("passes a deleted key read back as not found, or as its tombstone, with tombstones on every replica", () => {
    const ops = deletedRun();
    expect(kinds(history(ops, finals({ status: 404, value: null }), [tombstones(2_000)]))).toEqual(
      [],
    );
    const result = checkHistory(
      history(ops, finals({ value: null, timestampUs: 2_000 }), [tombstones(2_000)]),
    );
    expect(result.violations).toEqual([]);
    expect(result.summary).toMatchObject({ writes: 2, deletes: 1, quorumAckedWrites: 2 });
    expect(formatSummary("deletes", result.summary)).toContain("deletes 1");
  });

  it("passes a value written after a delete and read back", () => {
    const ops = [
      ...deletedRun(),
      write({ value: "w1:3", startMs: 40, endMs: 50, timestampUs: 3_000 }),
    ];
    const states = [
      replicas("k", ["node1", "w1:3", 3_000], ["node2", "w1:3", 3_000], ["node3", "w1:3", 3_000]),
    ];
    expect(kinds(history(ops, finals({ value: "w1:3", timestampUs: 3_000 }), states))).toEqual([]);
  });

  it("finds a lost write: not found after an acknowledged write that no delete explains", () => {
    const ops = [
      ...deletedRun(),
      write({ value: "w1:3", startMs: 40, endMs: 50, timestampUs: 3_000 }),
    ];
    const result = checkHistory(history(ops, finals({ status: 404, value: null }), []));
    expect(result.violations.map((violation) => violation.kind)).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
    expect(result.violations[0]?.message).toContain("w1:3");
  });

  it("finds a lost write: a tombstone older than the newest acknowledged write", () => {
    const ops = [
      ...deletedRun(),
      write({ value: "w1:3", startMs: 40, endMs: 50, timestampUs: 3_000 }),
    ];
    const stale = finals({ value: null, timestampUs: 2_000 }).map((op, index) =>
      index === 0 ? op : { ...op, value: "w1:3", timestampUs: 3_000 },
    );
    expect(kinds(history(ops, stale, []))).toEqual(["lost-write"]);
  });

  it("finds a lost write: a value older than an acknowledged delete (the tombstone was lost)", () => {
    const ops = deletedRun();
    expect(kinds(history(ops, finals({ value: "w1:1", timestampUs: 1_000 }), []))).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
  });

  it("accepts not found explained by an indeterminate delete concurrent with the newest write", () => {
    const value = write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 });
    const concurrent = del({
      worker: "w2",
      startMs: 5,
      endMs: 5_005,
      outcome: "indeterminate",
      error: "timeout",
    });
    expect(kinds(history([value, concurrent], finals({ status: 404, value: null }), []))).toEqual(
      [],
    );
  });

  it("does not let an indeterminate delete that ended before the newest write explain not found", () => {
    const earlier = del({
      worker: "w2",
      startMs: 0,
      endMs: 3,
      outcome: "indeterminate",
      error: "ECONNRESET",
    });
    const value = write({ value: "w1:1", startMs: 10, endMs: 20, timestampUs: 1_000 });
    expect(kinds(history([earlier, value], finals({ status: 404, value: null }), []))).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
  });

  it("lets a w=one delete stamped after the newest quorum write explain not found, but not a refused one", () => {
    const value = write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 });
    const weak = del({ level: "one", startMs: 20, endMs: 25, timestampUs: 1_500 });
    expect(kinds(history([value, weak], finals({ status: 404, value: null }), []))).toEqual([]);
    const refused = del({ startMs: 20, endMs: 25, outcome: "failed", status: 503 });
    expect(kinds(history([value, refused], finals({ status: 404, value: null }), []))).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
  });

  it("finds stale reads around deletes, and accepts not found after an acknowledged delete", () => {
    const ops = deletedRun();
    const notFound = read({ startMs: 35, endMs: 40, status: 404, value: null });
    const tombstone = read({ startMs: 35, endMs: 40, value: null, timestampUs: 2_000 });
    const oldValue = read({ startMs: 35, endMs: 40, value: "w1:1", timestampUs: 1_000 });
    const beforeValue = read({ startMs: 12, endMs: 15, status: 404, value: null });
    const finalReads = finals({ status: 404, value: null });
    expect(kinds(history([...ops, notFound, tombstone], finalReads, []))).toEqual([]);
    expect(kinds(history([...ops, oldValue], finalReads, []))).toEqual(["stale-read"]);
    expect(kinds(history([...ops, beforeValue], finalReads, []))).toEqual(["stale-read"]);
  });

  it("finds a tombstone nobody wrote, one only a refused delete wrote, one from the future, one with another timestamp", () => {
    const base = write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 });
    const seen = read({ startMs: 20, endMs: 25, value: null, timestampUs: 1_500 });
    const finalReads = finals({ value: "w1:1", timestampUs: 1_000 });
    expect(kinds(history([base, seen], finalReads, []))).toEqual(["phantom-value"]);
    const refused = del({ startMs: 12, endMs: 13, outcome: "failed", status: 503 });
    expect(kinds(history([base, refused, seen], finalReads, []))).toEqual([
      "refused-write-visible",
    ]);
    const later = del({ level: "one", startMs: 30, endMs: 31, timestampUs: 1_500 });
    expect(kinds(history([base, seen, later], finalReads, []))).toEqual(["future-read"]);
    const other = del({ level: "one", startMs: 12, endMs: 13, timestampUs: 1_400 });
    expect(kinds(history([base, other, seen], finalReads, []))).toEqual(["timestamp-mismatch"]);
    const unknown = del({ startMs: 12, endMs: 13, outcome: "indeterminate", error: "timeout" });
    expect(kinds(history([base, unknown, seen], finalReads, []))).toEqual([]);
  });

  it("finds a final read that did not answer for a deleted key", () => {
    const failed = finals({ status: 404, value: null }).map((op, index) =>
      index === 1 ? { ...op, outcome: "failed" as const, status: 503, value: undefined } : op,
    );
    expect(kinds(history(deletedRun(), failed, []))).toEqual(["final-read-failed"]);
  });

  it("finds replicas divergent over a tombstone, and a replica tombstone nobody wrote", () => {
    const ops = deletedRun();
    const finalReads = finals({ status: 404, value: null });
    const valueLeft = replicas(
      "k",
      ["node1", "tombstone", 2_000],
      ["node2", "w1:1", 1_000],
      ["node3", "tombstone", 2_000],
    );
    const purged = replicas(
      "k",
      ["node1", "tombstone", 2_000],
      ["node2", "tombstone", 2_000],
      ["node3", null, 0],
    );
    const result = checkHistory(history(ops, finalReads, [valueLeft]));
    expect(result.violations.map((violation) => violation.kind)).toEqual(["divergent-replicas"]);
    expect(result.violations[0]?.message).toContain("node1=tombstone@2000");
    expect(kinds(history(ops, finalReads, [purged]))).toEqual(["divergent-replicas"]);
    const forged = replicas("other", ["node1", "tombstone", 9], ["node2", "tombstone", 9]);
    expect(kinds(history(ops, finalReads, [forged]))).toEqual([
      "phantom-replica-value",
      "phantom-replica-value",
    ]);
  });
});
