// src/sim/history/checker.ts — judges a recorded history against SPEC §4's promises.
//
// Theory of operation (Jepsen's checkers, cut down to what a last-write-wins register store
// promises). Every written value is unique (worker and sequence), so any value a read returns names
// the one write that produced it; versions are ordered by their HLC timestamp (X-Grapevine-Timestamp),
// which is the order the store itself resolves conflicts by. A write is *quorum-acknowledged* when it
// was acknowledged at a level whose replicas overlap every quorum read (w=quorum, w=all, or a number
// n with n + quorum > rf). Indeterminate writes (504, transport errors) may or may not have landed:
// their values may appear, and nothing is required of them. Writes refused with 503 sent nothing.
//
// The checks, each a kind of violation:
// - lost-write: a final quorum read (after heal and settle, from every node) returns nothing, or a
//   version older than the newest quorum-acknowledged write of the key. Superseding by a newer
//   acknowledged write, or by an indeterminate write that did land, is fine: only the timestamp
//   must not go back.
// - stale-read: during the run, a quorum read that started after a quorum-acknowledged write
//   finished returned an older version (SPEC §4: seen by every *later* quorum read).
// - phantom-value: a read returned a value no operation wrote; refused-write-visible: the value of
//   a write refused with 503; future-read: the value of a write that started after the read ended;
//   timestamp-mismatch: an acknowledged write's value came back with another timestamp.
// - final-read-failed: a final quorum read did not answer: after heal the promise needs an answer.
// - divergent-replicas: after settle, a key's replicas hold different versions (or some none);
//   phantom-replica-value: a replica holds a value nobody wrote.
//
// Pure: no clock, no IO. The recorder (recorder.ts) produces the input; a failing run's history is
// kept as a JSON file (recorder.ts writeHistoryFile) and can be checked again offline.

import type { History, HistoryOp, ReadOp, WriteOp } from "./types.js";

export type ViolationKind =
  | "lost-write"
  | "stale-read"
  | "phantom-value"
  | "refused-write-visible"
  | "future-read"
  | "timestamp-mismatch"
  | "final-read-failed"
  | "divergent-replicas"
  | "phantom-replica-value";

export interface Violation {
  readonly kind: ViolationKind;
  readonly key: string;
  /** One sentence a reader can act on: which operation, which node, which versions. */
  readonly message: string;
  /** Ids of the operations involved. */
  readonly ops: readonly number[];
}

export interface HistorySummary {
  /** Workload operations (final reads not included). */
  readonly operations: number;
  readonly writes: number;
  readonly reads: number;
  readonly acked: number;
  readonly failed: number;
  readonly indeterminate: number;
  /** Writes acknowledged at a quorum-overlapping level. */
  readonly quorumAckedWrites: number;
  readonly finalReads: number;
  readonly keysChecked: number;
  readonly violations: number;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly summary: HistorySummary;
  readonly violations: readonly Violation[];
}

export interface CheckOptions {
  /** To tell whether a numeric w or r overlaps a quorum. Default 3. */
  readonly replicationFactor?: number;
}

const DEFAULT_REPLICATION_FACTOR = 3;
/** Violations listed per kind in the text report; the file keeps them all. */
const VIOLATIONS_SHOWN_PER_KIND_MAX = 5;

/** True when an operation at `level` touches a set of replicas that meets every quorum. */
export function overlapsQuorum(level: string, replicationFactor: number): boolean {
  const quorum = Math.floor(replicationFactor / 2) + 1;
  if (level === "quorum" || level === "all") return true;
  if (level === "one") return 1 + quorum > replicationFactor;
  const count = Number(level);
  return Number.isInteger(count) && count + quorum > replicationFactor;
}

export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const rf = options.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
  const violations: Violation[] = [];
  const writes = history.ops.filter((op): op is WriteOp => op.kind === "write");
  const writesByValue = new Map<string, WriteOp>();
  for (const write of writes) writesByValue.set(write.value, write);
  const quorumAcked = new Map<string, WriteOp[]>();
  for (const write of writes) {
    if (write.outcome !== "ok" || !overlapsQuorum(write.level, rf)) continue;
    const list = quorumAcked.get(write.key) ?? [];
    list.push(write);
    quorumAcked.set(write.key, list);
  }

  /** Provenance of one read's value: phantom, refused, from the future, wrong timestamp. */
  const checkProvenance = (read: ReadOp): void => {
    if (read.outcome !== "ok" || read.value === null || read.value === undefined) return;
    const write = writesByValue.get(read.value);
    if (write === undefined || write.key !== read.key) {
      violations.push({ kind: "phantom-value", key: read.key, ops: [read.id], message: `read #${read.id} on ${read.node} returned ${JSON.stringify(read.value)}, which no operation wrote to this key` });
      return;
    }
    if (write.outcome === "failed") {
      violations.push({ kind: "refused-write-visible", key: read.key, ops: [read.id, write.id], message: `read #${read.id} on ${read.node} returned the value of write #${write.id}, which was refused (${write.error ?? write.status ?? "failed"})` });
    }
    if (write.startMs > read.endMs) {
      violations.push({ kind: "future-read", key: read.key, ops: [read.id, write.id], message: `read #${read.id} returned the value of write #${write.id}, which started ${write.startMs - read.endMs} ms after the read ended` });
    }
    if (write.timestampUs !== undefined && read.timestampUs !== undefined && write.timestampUs !== read.timestampUs) {
      violations.push({ kind: "timestamp-mismatch", key: read.key, ops: [read.id, write.id], message: `read #${read.id} returned write #${write.id}'s value with timestamp ${read.timestampUs}, but the write was acknowledged at ${write.timestampUs}` });
    }
  };

  /** The newest quorum-acknowledged write of a key that finished before `beforeMs` (all when omitted). */
  const newestAcked = (key: string, beforeMs?: number): WriteOp | undefined => {
    let newest: WriteOp | undefined;
    for (const write of quorumAcked.get(key) ?? []) {
      if (beforeMs !== undefined && write.endMs >= beforeMs) continue;
      if (newest === undefined || (write.timestampUs ?? 0) > (newest.timestampUs ?? 0)) newest = write;
    }
    return newest;
  };

  const describeRead = (read: ReadOp): string =>
    read.value === null || read.value === undefined ? "nothing" : `${JSON.stringify(read.value)} at ${read.timestampUs ?? "?"}`;

  for (const op of history.ops) {
    if (op.kind !== "read") continue;
    checkProvenance(op);
    if (op.outcome !== "ok" || !overlapsQuorum(op.level, rf)) continue;
    const before = newestAcked(op.key, op.startMs);
    if (before === undefined) continue;
    if (op.value === null || op.value === undefined || (op.timestampUs ?? 0) < (before.timestampUs ?? 0)) {
      violations.push({ kind: "stale-read", key: op.key, ops: [op.id, before.id], message: `quorum read #${op.id} on ${op.node} returned ${describeRead(op)}, older than write #${before.id} (${JSON.stringify(before.value)} at ${before.timestampUs ?? "?"}) acknowledged before it started` });
    }
  }

  for (const read of history.finalReads) {
    checkProvenance(read);
    if (read.outcome !== "ok") {
      violations.push({ kind: "final-read-failed", key: read.key, ops: [read.id], message: `final quorum read #${read.id} of ${JSON.stringify(read.key)} on ${read.node} did not answer (${read.error ?? read.status ?? "no answer"})` });
      continue;
    }
    const newest = newestAcked(read.key);
    if (newest === undefined) continue;
    if (read.value === null || read.value === undefined || (read.timestampUs ?? 0) < (newest.timestampUs ?? 0)) {
      violations.push({ kind: "lost-write", key: read.key, ops: [read.id, newest.id], message: `final quorum read #${read.id} on ${read.node} returned ${describeRead(read)}; acknowledged write #${newest.id} (${JSON.stringify(newest.value)} at ${newest.timestampUs ?? "?"}) is lost` });
    }
  }

  for (const state of history.replicas) {
    const distinct = new Set(state.copies.map((copy) => (copy.version === null ? "none" : `${copy.version.timestampUs}/${copy.version.writer}/${copy.version.tombstone ? "tombstone" : copy.version.value}`)));
    if (distinct.size > 1) {
      const shown = state.copies.map((copy) => `${copy.node}=${copy.version === null ? "none" : `${JSON.stringify(copy.version.value)}@${copy.version.timestampUs}`}`);
      violations.push({ kind: "divergent-replicas", key: state.key, ops: [], message: `replicas of ${JSON.stringify(state.key)} differ after settle: ${shown.join(", ")}` });
    }
    for (const copy of state.copies) {
      if (copy.version === null || copy.version.tombstone) continue;
      const write = writesByValue.get(copy.version.value);
      if (write === undefined || write.key !== state.key) {
        violations.push({ kind: "phantom-replica-value", key: state.key, ops: [], message: `${copy.node} holds ${JSON.stringify(copy.version.value)} for ${JSON.stringify(state.key)}, which no operation wrote` });
      }
    }
  }

  const count = (predicate: (op: HistoryOp) => boolean): number => history.ops.filter(predicate).length;
  const summary: HistorySummary = {
    operations: history.ops.length,
    writes: writes.length,
    reads: history.ops.length - writes.length,
    acked: count((op) => op.outcome === "ok"),
    failed: count((op) => op.outcome === "failed"),
    indeterminate: count((op) => op.outcome === "indeterminate"),
    quorumAckedWrites: [...quorumAcked.values()].reduce((sum, list) => sum + list.length, 0),
    finalReads: history.finalReads.length,
    keysChecked: history.replicas.length,
    violations: violations.length,
  };
  return { ok: violations.length === 0, summary, violations };
}

/** The one summary line: operations, acked, failed, indeterminate, violations. */
export function formatSummary(name: string, summary: HistorySummary): string {
  const s = summary;
  return (
    `[history ${name}] operations ${s.operations} (writes ${s.writes}, reads ${s.reads}), acked ${s.acked}, ` +
    `failed ${s.failed}, indeterminate ${s.indeterminate}, quorum-acked writes ${s.quorumAckedWrites}, ` +
    `final reads ${s.finalReads}, keys checked ${s.keysChecked}, violations ${s.violations}`
  );
}

/** The summary line and the first few violations of each kind, for a test's output. */
export function formatReport(name: string, result: CheckResult): string {
  const lines = [formatSummary(name, result.summary)];
  const byKind = new Map<ViolationKind, Violation[]>();
  for (const violation of result.violations) {
    const list = byKind.get(violation.kind) ?? [];
    list.push(violation);
    byKind.set(violation.kind, list);
  }
  for (const [kind, list] of byKind) {
    lines.push(`  ${kind}: ${list.length}`);
    for (const violation of list.slice(0, VIOLATIONS_SHOWN_PER_KIND_MAX)) lines.push(`    ${violation.message}`);
  }
  return lines.join("\n");
}
