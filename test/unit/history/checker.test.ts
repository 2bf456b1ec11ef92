// The history checker (src/sim/history/checker.ts) judged on hand-made histories: ones that
// keep every promise pass; a lost write, a phantom value, divergent replicas and the other kinds
// each fail with their own violation.

import { describe, expect, it } from "vitest";
import { read, write } from "../../support/history/ops.js";
import { checkHistory, formatSummary, overlapsQuorum } from "../../../src/sim/history/checker.js";
import type { History, HistoryOp, ReadOp, ReplicaState } from "../../../src/sim/history/types.js";

function copies(
  key: string,
  ...versions: (readonly [string, string | null, number])[]
): ReplicaState {
  return {
    key,
    copies: versions.map(([node, value, timestampUs]) => ({
      node,
      version: value === null ? null : { timestampUs, writer: "node1", value, tombstone: false },
    })),
  };
}

function history(
  ops: readonly HistoryOp[],
  finalReads: readonly ReadOp[],
  replicas: readonly ReplicaState[],
): History {
  return {
    name: "hand-made",
    startedAt: "2026-01-01T00:00:00.000Z",
    ops,
    finalReads,
    replicas,
    events: [],
  };
}

/**
 * A clean run: two acked writes, a read in between, final reads of the newest, converged replicas.
 */
function cleanRun(): { ops: HistoryOp[]; finalReads: ReadOp[]; replicas: ReplicaState[] } {
  const first = write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 });
  const second = write({ value: "w1:2", startMs: 20, endMs: 30, timestampUs: 2_000 });
  const between = read({ startMs: 12, endMs: 18, value: "w1:1", timestampUs: 1_000 });
  const finals = ["node1", "node2", "node3"].map((node) =>
    read({ worker: "final", node, startMs: 100, endMs: 110, value: "w1:2", timestampUs: 2_000 }),
  );
  return {
    ops: [first, between, second],
    finalReads: finals,
    replicas: [
      copies("k", ["node1", "w1:2", 2_000], ["node2", "w1:2", 2_000], ["node3", "w1:2", 2_000]),
    ],
  };
}

describe("the history checker", () => {
  it("passes a run where every acknowledged write is read back and the replicas agree", () => {
    const run = cleanRun();
    const result = checkHistory(history(run.ops, run.finalReads, run.replicas));
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.summary).toMatchObject({
      operations: 3,
      writes: 2,
      reads: 1,
      acked: 3,
      failed: 0,
      indeterminate: 0,
      quorumAckedWrites: 2,
      finalReads: 3,
      violations: 0,
    });
    expect(formatSummary("hand-made", result.summary)).toContain("operations 3");
  });

  it("passes when an indeterminate write landed and superseded an acknowledged one", () => {
    const run = cleanRun();
    const late = write({
      value: "w2:1",
      worker: "w2",
      startMs: 40,
      endMs: 5_040,
      outcome: "indeterminate",
      error: "timeout",
    });
    const finals = run.finalReads.map((op) => ({ ...op, value: "w2:1", timestampUs: 3_000 }));
    const replicas = [
      copies("k", ["node1", "w2:1", 3_000], ["node2", "w2:1", 3_000], ["node3", "w2:1", 3_000]),
    ];
    expect(checkHistory(history([...run.ops, late], finals, replicas)).violations).toEqual([]);
  });

  it("passes when an indeterminate write never landed and the older acknowledged value stays", () => {
    const run = cleanRun();
    const lost = write({
      value: "w2:1",
      worker: "w2",
      startMs: 40,
      endMs: 41,
      outcome: "indeterminate",
      error: "ECONNRESET",
    });
    const result = checkHistory(history([...run.ops, lost], run.finalReads, run.replicas));
    expect(result.ok).toBe(true);
    expect(result.summary.indeterminate).toBe(1);
  });

  it("does not require w=one writes to be seen by quorum reads", () => {
    const run = cleanRun();
    const weak = write({
      value: "w3:1",
      worker: "w3",
      level: "one",
      startMs: 40,
      endMs: 45,
      timestampUs: 4_000,
    });
    expect(checkHistory(history([...run.ops, weak], run.finalReads, run.replicas)).ok).toBe(true);
  });

  it("finds a lost write: a final quorum read returns an older version than an acknowledged write", () => {
    const run = cleanRun();
    const finals = run.finalReads.map((op, index) =>
      index === 1 ? { ...op, value: "w1:1", timestampUs: 1_000 } : op,
    );
    const result = checkHistory(history(run.ops, finals, run.replicas));
    expect(result.ok).toBe(false);
    expect(result.violations.map((violation) => violation.kind)).toEqual(["lost-write"]);
    expect(result.violations[0]?.message).toContain("w1:2");
  });

  it("finds a lost write: a final quorum read finds nothing", () => {
    const run = cleanRun();
    const finals = run.finalReads.map((op, index) =>
      index === 0 ? { ...op, status: 404, value: null, timestampUs: undefined } : op,
    );
    expect(
      checkHistory(history(run.ops, finals, run.replicas)).violations.map(
        (violation) => violation.kind,
      ),
    ).toEqual(["lost-write"]);
  });

  it("finds a final quorum read that did not answer", () => {
    const run = cleanRun();
    const finals = run.finalReads.map((op, index) =>
      index === 2
        ? {
            ...op,
            outcome: "failed" as const,
            status: 503,
            value: undefined,
            timestampUs: undefined,
          }
        : op,
    );
    expect(
      checkHistory(history(run.ops, finals, run.replicas)).violations.map(
        (violation) => violation.kind,
      ),
    ).toEqual(["final-read-failed"]);
  });

  it("finds a phantom value: a read returns something nobody wrote", () => {
    const run = cleanRun();
    const phantom = read({ startMs: 50, endMs: 55, value: "nobody:1", timestampUs: 9_000 });
    const result = checkHistory(history([...run.ops, phantom], run.finalReads, run.replicas));
    expect(result.violations.map((violation) => violation.kind)).toEqual(["phantom-value"]);
  });

  it("finds a value written to another key as a phantom", () => {
    const run = cleanRun();
    const other = write({ key: "other", value: "w9:1", startMs: 0, endMs: 1, timestampUs: 500 });
    const crossed = read({ startMs: 50, endMs: 55, value: "w9:1", timestampUs: 500 });
    const kinds = checkHistory(
      history([...run.ops, other, crossed], run.finalReads, run.replicas),
    ).violations.map((violation) => violation.kind);
    expect(kinds).toContain("phantom-value");
  });

  it("traces a value within its key, so the empty value may be written once to each key", () => {
    const one = write({ key: "a", value: "", startMs: 0, endMs: 1, timestampUs: 10 });
    const two = write({ key: "b", value: "", startMs: 0, endMs: 1, timestampUs: 20 });
    const readA = read({ key: "a", startMs: 5, endMs: 6, value: "", timestampUs: 10 });
    const readB = read({ key: "b", startMs: 5, endMs: 6, value: "", timestampUs: 20 });
    expect(checkHistory(history([one, two, readA, readB], [], [])).violations).toEqual([]);
  });

  it("finds a refused write's value, a read from the future and a changed timestamp", () => {
    const run = cleanRun();
    const refused = write({
      key: "r",
      value: "w4:1",
      startMs: 0,
      endMs: 1,
      outcome: "failed",
      status: 503,
      error: "unavailable",
    });
    const sawRefused = read({ key: "r", startMs: 5, endMs: 6, value: "w4:1", timestampUs: 10 });
    const future = write({ key: "f", value: "w5:1", startMs: 100, endMs: 101, timestampUs: 20 });
    const sawFuture = read({ key: "f", startMs: 10, endMs: 20, value: "w5:1", timestampUs: 20 });
    const changed = read({ startMs: 200, endMs: 201, value: "w1:2", timestampUs: 2_001 });
    const kinds = checkHistory(
      history(
        [...run.ops, refused, sawRefused, future, sawFuture, changed],
        run.finalReads,
        run.replicas,
      ),
    ).violations.map((violation) => violation.kind);
    expect(kinds.sort()).toEqual(["future-read", "refused-write-visible", "timestamp-mismatch"]);
  });

  it("finds a stale read: a quorum read after an acknowledged quorum write returns an older version", () => {
    const run = cleanRun();
    const stale = read({ startMs: 35, endMs: 40, value: "w1:1", timestampUs: 1_000 });
    const weak = read({ level: "one", startMs: 35, endMs: 40, value: "w1:1", timestampUs: 1_000 });
    const kinds = checkHistory(
      history([...run.ops, stale, weak], run.finalReads, run.replicas),
    ).violations.map((violation) => violation.kind);
    expect(kinds).toEqual(["stale-read"]);
  });

  it("finds divergent replicas: one replica holds an older version, or none", () => {
    const run = cleanRun();
    const older = [
      copies("k", ["node1", "w1:2", 2_000], ["node2", "w1:1", 1_000], ["node3", "w1:2", 2_000]),
    ];
    const missing = [
      copies("k", ["node1", "w1:2", 2_000], ["node2", "w1:2", 2_000], ["node3", null, 0]),
    ];
    expect(
      checkHistory(history(run.ops, run.finalReads, older)).violations.map(
        (violation) => violation.kind,
      ),
    ).toEqual(["divergent-replicas"]);
    const result = checkHistory(history(run.ops, run.finalReads, missing));
    expect(result.violations.map((violation) => violation.kind)).toEqual(["divergent-replicas"]);
    expect(result.violations[0]?.message).toContain("node3=none");
  });

  it("finds a replica holding a value nobody wrote", () => {
    const run = cleanRun();
    const forged = [
      copies("k", ["node1", "x", 2_000], ["node2", "x", 2_000], ["node3", "x", 2_000]),
    ];
    expect(
      checkHistory(history(run.ops, run.finalReads, forged)).violations.map(
        (violation) => violation.kind,
      ),
    ).toEqual(["phantom-replica-value", "phantom-replica-value", "phantom-replica-value"]);
  });

  it("counts numeric levels that overlap every quorum as quorum levels", () => {
    expect(overlapsQuorum("quorum", 3)).toBe(true);
    expect(overlapsQuorum("all", 3)).toBe(true);
    expect(overlapsQuorum("2", 3)).toBe(true);
    expect(overlapsQuorum("1", 3)).toBe(false);
    expect(overlapsQuorum("one", 3)).toBe(false);
    expect(overlapsQuorum("one", 1)).toBe(true);
  });
});
