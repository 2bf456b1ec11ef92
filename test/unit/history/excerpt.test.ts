// The excerpt of a violation (src/sim/history/excerpt.ts): the violating operations, the
// operations of their key that overlapped them, and the acknowledged writes of that key before
// them, in start order and cut to a maximum — what a failing simulation prints.

import { describe, expect, it } from "vitest";
import { read, write } from "../../support/history/ops.js";
import { checkHistory } from "../../../src/sim/history/checker.js";
import { excerptFor, formatOp } from "../../../src/sim/history/excerpt.js";
import type { History, HistoryOp, ReadOp, WriteOp } from "../../../src/sim/history/types.js";

function history(ops: readonly HistoryOp[], finalReads: readonly ReadOp[] = []): History {
  return {
    name: "excerpt",
    startedAt: "2026-01-01T00:00:00.000Z",
    ops,
    finalReads,
    replicas: [],
    events: [],
  };
}

/** Many writes of k, an unrelated key, a concurrent delete, and a stale read at the end. */
function staleRun(): {
  h: History;
  stale: ReadOp;
  newest: WriteOp;
  concurrent: WriteOp;
  older: WriteOp[];
} {
  const older = Array.from({ length: 10 }, (_, i) =>
    write({ value: `w1:${i}`, startMs: i * 10, endMs: i * 10 + 5, timestampUs: 1_000 + i }),
  );
  const noise = Array.from({ length: 10 }, (_, i) =>
    write({ key: "other", value: `w9:${i}`, startMs: i * 10, endMs: i * 10 + 5, timestampUs: 5 }),
  );
  const newest = write({ value: "w1:new", startMs: 200, endMs: 210, timestampUs: 5_000 });
  const concurrent = write({
    worker: "w2",
    value: null,
    startMs: 215,
    endMs: 300,
    outcome: "indeterminate",
    error: "timeout",
  });
  const stale = read({ startMs: 220, endMs: 230, value: "w1:3", timestampUs: 1_003 });
  const failedLater = write({
    value: "w1:late",
    startMs: 400,
    endMs: 401,
    outcome: "failed",
    status: 503,
  });
  return {
    h: history([...older, ...noise, newest, concurrent, stale, failedLater]),
    stale,
    newest,
    concurrent,
    older,
  };
}

describe("excerptFor", () => {
  it("shows the violating ops, the overlapping ones and the acknowledged writes before them, in start order", () => {
    const { h, stale, newest, concurrent, older } = staleRun();
    const violation = checkHistory(h).violations.find((v) => v.kind === "stale-read");
    expect(violation).toBeDefined();
    const excerpt = excerptFor(h, violation!, 5);
    expect(excerpt.map((op) => op.id)).toEqual([
      older[8]!.id,
      older[9]!.id,
      newest.id,
      concurrent.id,
      stale.id,
    ]);
    expect(excerpt.every((op) => op.key === "k")).toBe(true);
  });

  it("keeps the named ops first when maxOps is small, and never more than maxOps", () => {
    const { h, stale, newest } = staleRun();
    const violation = checkHistory(h).violations.find((v) => v.kind === "stale-read")!;
    expect(excerptFor(h, violation, 2).map((op) => op.id)).toEqual([newest.id, stale.id]);
    for (let max = 1; max <= 30; max++)
      expect(excerptFor(h, violation, max).length).toBeLessThanOrEqual(max);
    expect(excerptFor(h, violation, 100).length).toBe(13);
    expect(() => excerptFor(h, violation, 0)).toThrow(/at least one/);
  });

  it("includes final reads and shows a key's newest acknowledged writes when no op is named", () => {
    const first = write({ value: "a", startMs: 0, endMs: 1, timestampUs: 1 });
    const second = write({ value: "b", startMs: 2, endMs: 3, timestampUs: 2 });
    const lost = read({ worker: "final", startMs: 10, endMs: 11, value: "a", timestampUs: 1 });
    const h = history([first, second], [lost]);
    const violation = checkHistory(h).violations[0]!;
    expect(violation.kind).toBe("lost-write");
    expect(excerptFor(h, violation, 10).map((op) => op.id)).toEqual([first.id, second.id, lost.id]);
    const divergent = { kind: "divergent-replicas" as const, key: "k", ops: [], message: "" };
    expect(excerptFor(h, divergent, 1).map((op) => op.id)).toEqual([second.id]);
  });

  it("prints one line per op, values cut short", () => {
    const put = write({ value: "x".repeat(100), startMs: 1, endMs: 2, timestampUs: 7 });
    expect(formatOp(put)).toBe(
      `#${put.id} [1..2] w1 via node1 put "k" = "${"x".repeat(24)}…" (100 chars) quorum: ok @7`,
    );
    const gone = write({
      value: null,
      startMs: 3,
      endMs: 9,
      outcome: "indeterminate",
      error: "timeout",
    });
    expect(formatOp(gone)).toBe(
      `#${gone.id} [3..9] w1 via node1 delete "k" quorum: indeterminate (timeout)`,
    );
    const notFound = read({ startMs: 4, endMs: 5, value: null });
    expect(formatOp(notFound)).toContain('get "k" -> null quorum: ok');
  });
});
