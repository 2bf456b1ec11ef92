// src/sim/history/excerpt.ts — the shortest part of a history that shows one violation, for a
// failing simulation to print instead of thousands of operations.
//
// What a reader needs to see a violation: the operations it names, the operations of the same key
// that overlapped them in time (a concurrent write or delete is the usual suspect), and the
// acknowledged writes of that key that finished before them (what the read should have seen).
// When that is more than maxOps, the named operations go first, then the overlapping ones (writes
// before reads), then the acknowledged writes newest first; what is kept is printed in start order.
// A violation that names no operation (replicas that differ) is shown by its key's acknowledged
// writes, newest first. Pure: no clock, no IO.

import { assert } from "../../core/assert.js";
import type { Violation } from "./checker.js";
import type { History, HistoryOp } from "./types.js";
import { shownValue as shown } from "./versions.js";

/** How much of a written or read value one printed line shows. */

function byStart(a: HistoryOp, b: HistoryOp): number {
  return a.startMs - b.startMs || a.id - b.id;
}

function overlaps(a: HistoryOp, b: HistoryOp): boolean {
  return a.startMs < b.endMs && b.startMs < a.endMs;
}

/** The operations that show `violation`, in start order, at most `maxOps`. */
export function excerptFor(history: History, violation: Violation, maxOps: number): HistoryOp[] {
  const valid = Number.isInteger(maxOps) && maxOps >= 1;
  assert(valid, `an excerpt holds at least one operation, not ${maxOps}`);
  const all = [...history.ops, ...history.finalReads];
  const named = new Set(violation.ops);
  const violating = all.filter((op) => named.has(op.id)).sort(byStart);
  const others = all.filter((op) => op.key === violation.key && !named.has(op.id));
  const overlapping = others
    .filter((op) => violating.some((v) => overlaps(op, v)))
    .sort((a, b) => Number(b.kind === "write") - Number(a.kind === "write") || byStart(a, b));
  const lastStart = violating.reduce((latest, op) => Math.max(latest, op.startMs), -Infinity);
  const chosen = new Set([...violating, ...overlapping]);
  const before = others
    .filter((op) => op.kind === "write" && op.outcome === "ok" && !chosen.has(op))
    .filter((op) => violating.length === 0 || op.endMs <= lastStart)
    .sort((a, b) => b.endMs - a.endMs || b.id - a.id);
  return [...violating, ...overlapping, ...before].slice(0, maxOps).sort(byStart);
}

/** One line per operation: id, time span, worker, node, what it did, how it ended. */
export function formatOp(op: HistoryOp): string {
  const what =
    op.kind === "write"
      ? op.value === null
        ? `delete ${JSON.stringify(op.key)}`
        : `put ${JSON.stringify(op.key)} = ${shown(op.value)}`
      : `get ${JSON.stringify(op.key)} -> ${op.outcome === "ok" ? shown(op.value) : "-"}`;
  const stamp = op.timestampUs === undefined ? "" : ` @${op.timestampUs}`;
  const why = op.error === undefined ? "" : ` (${op.error})`;
  const span = `[${op.startMs}..${op.endMs}]`;
  const who = `${op.worker} via ${op.node}`;
  return `#${op.id} ${span} ${who} ${what} ${op.level}: ${op.outcome}${stamp}${why}`;
}
