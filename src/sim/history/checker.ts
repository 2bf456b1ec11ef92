// src/sim/history/checker.ts — judges a recorded history against SPEC §4's promises.
//
// Theory of operation (Jepsen's checkers, cut down to what a last-write-wins register store
// promises). Every written value is unique within its key (worker and sequence), so any value a
// read returns names the one write that produced it; versions are ordered by their HLC timestamp
// (X-Grapevine-Timestamp), which is the order the store itself resolves conflicts by. A write is
// *quorum-acknowledged* when it was acknowledged at a level whose replicas overlap every quorum
// read (w=quorum, w=all, or a number n with n + quorum > rf). Indeterminate writes (504, transport
// errors) may or may not have landed: their values may appear, and nothing is required of them.
// Writes refused with 503 sent nothing.
//
// Deletes are writes of a tombstone (value null). Tombstones are not unique, so a tombstone a read
// returns is traced to the key's deletes as a set: any delete that was not refused, started before
// the read ended, and (when both timestamps are known) carries the tombstone's timestamp. A read
// that saw a tombstone with its timestamp (the simulator reads through the coordinator) returned a
// version like any other; a plain "not found" (an HTTP 404: no timestamp) is a state only a
// delete can explain (see versions.ts).
//
// The checks, each a kind of violation:
// - lost-write: a final quorum read (after heal and settle, from every node) returns a version
//   older than the newest quorum-acknowledged write of the key, or "not found" that no delete
//   explains. Superseding by a newer acknowledged write, or by an indeterminate write that did
//   land, is fine: only the timestamp must not go back.
// - stale-read: during the run, a quorum read that started after a quorum-acknowledged write
//   finished returned an older version (SPEC §4: seen by every *later* quorum read).
// Power losses with --sync off (history.durability) may take acknowledged writes the promise does
// not protect: a write that enough of its key's replicas lost power in time to lose
// (power-loss.ts) is left out of both checks above, and counted as an excused loss; every other
// loss is still a violation.
// - phantom-value: a read returned a value (or a tombstone) no operation wrote;
//   refused-write-visible: the value of a write refused with 503 (a tombstone only refused deletes
//   could have written); future-read: the value of a write that started after the read ended;
//   timestamp-mismatch: an acknowledged write's value came back with another timestamp.
// - resurrected-expired-value: a read returned the value of an acknowledged write with a time to
//   live when it had definitely expired (its end + ttl, beyond what the clocks' allowed offsets
//   excuse: expiry.ts). Before then a value with a time to live may read as not found, which
//   counts neither as a stale read nor as a lost write; while definitely live it is held to both.
// - final-read-failed: a final quorum read did not answer: after heal the promise needs an answer.
// - divergent-replicas: after settle, a key's replicas hold different versions (or some none; a
//   tombstone is a version; a value's expiry is part of its version); phantom-replica-value: a
//   replica holds a value (or a tombstone) nobody wrote.
// - invariant-broken: a node broke an invariant during the run (history.invariants, recorded by
//   sim/run-invariants.ts): its name, the node and the time.
//
// Pure: no clock, no IO. The simulator and the real-process recorder produce the input; a failing
// run's history is kept as a JSON file and can be checked again offline.

import { EXPIRY_CLOCKS_DEFAULT, resurrectedByMs } from "./expiry.js";
import { PowerLossExcuses } from "./power-loss.js";
import type {
  ExpiryClocks,
  History,
  HistoryOp,
  InvariantBreach,
  ReadOp,
  ReplicaState,
  WriteOp,
} from "./types.js";
import {
  describeRead,
  shownValue,
  describeWrite,
  indexHistory,
  isBehind,
  newestAcked,
  tombstoneProvenance,
  writeOf,
  type HistoryIndex,
  type Provenance,
} from "./versions.js";

export { overlapsQuorum } from "./versions.js";

export type ViolationKind =
  | "lost-write"
  | "stale-read"
  | "phantom-value"
  | "refused-write-visible"
  | "future-read"
  | "timestamp-mismatch"
  | "final-read-failed"
  | "divergent-replicas"
  | "phantom-replica-value"
  | "invariant-broken"
  | "resurrected-expired-value"
  /** Not of one key: the live members' ring views differ after settle (sim/ring-convergence.ts). */
  | "ring-views-differ";

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
  /** Writes, deletes included. */
  readonly writes: number;
  readonly deletes: number;
  readonly reads: number;
  readonly acked: number;
  readonly failed: number;
  readonly indeterminate: number;
  /** Writes acknowledged at a quorum-overlapping level. */
  readonly quorumAckedWrites: number;
  readonly finalReads: number;
  readonly keysChecked: number;
  /** Acknowledged writes reads missed that power losses with --sync off were allowed to take. */
  readonly lossesExcused: number;
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
  /**
   * How far the nodes' clocks may be from the recorder's, to judge expiry (expiry.ts); by default
   * the history's own (History.clocks), else EXPIRY_CLOCKS_DEFAULT.
   */
  readonly clocks?: ExpiryClocks;
}

const DEFAULT_REPLICATION_FACTOR = 3;
/** Violations listed per kind in the text report; the file keeps them all. */
const VIOLATIONS_SHOWN_PER_KIND_MAX = 5;

/** Provenance of a read's value: phantom, refused, from the future, wrong timestamp. */
function checkValueProvenance(index: HistoryIndex, read: ReadOp, value: string): Violation[] {
  const where = `read #${read.id} on ${read.node}`;
  const write = writeOf(index, read.key, value);
  if (write === undefined) {
    const message = `${where} returned ${shownValue(value)}, which no operation wrote to this key`;
    return [{ kind: "phantom-value", key: read.key, ops: [read.id], message }];
  }
  const found: Violation[] = [];
  const ops = [read.id, write.id];
  if (write.outcome === "failed") {
    const why = write.error ?? write.status ?? "failed";
    const message = `${where} returned the value of write #${write.id}, which was refused (${why})`;
    found.push({ kind: "refused-write-visible", key: read.key, ops, message });
  }
  if (write.startMs > read.endMs) {
    const late = write.startMs - read.endMs;
    const message =
      `${where} returned the value of write #${write.id}, ` +
      `which started ${late} ms after the read ended`;
    found.push({ kind: "future-read", key: read.key, ops, message });
  }
  const { timestampUs } = read;
  const known = write.timestampUs !== undefined && timestampUs !== undefined;
  if (known && write.timestampUs !== timestampUs) {
    const message =
      `${where} returned write #${write.id}'s value with timestamp ${timestampUs}, ` +
      `but the write was acknowledged at ${write.timestampUs}`;
    found.push({ kind: "timestamp-mismatch", key: read.key, ops, message });
  }
  const lateMs = resurrectedByMs(write, read, index.clocks);
  if (lateMs !== undefined) {
    const message =
      `${where} returned the value of write #${write.id} (time to live ${write.ttlSeconds} s), ` +
      `which had expired: the read started ${lateMs} ms after its latest possible expiry`;
    found.push({ kind: "resurrected-expired-value", key: read.key, ops, message });
  }
  return found;
}

/** A tombstone's provenance as violations: the same kinds as a value's. */
function tombstoneViolations(read: ReadOp, provenance: Provenance): Violation[] {
  if (provenance.verdict === "ok") return [];
  const stamp = read.timestampUs ?? "?";
  const where = `read #${read.id} on ${read.node} returned a tombstone at ${stamp}`;
  const ops = [read.id, ...provenance.deletes];
  const named = provenance.deletes.map((id) => `#${id}`).join(", ");
  const message = {
    "phantom-value": `${where}, but no operation deleted this key`,
    "refused-write-visible": `${where}, but every delete of this key was refused (${named})`,
    "future-read": `${where}, but every delete of this key started after the read ended (${named})`,
    "timestamp-mismatch": `${where}, but no delete of this key was stamped so (${named})`,
  }[provenance.verdict];
  return [{ kind: provenance.verdict, key: read.key, ops, message }];
}

function checkProvenance(index: HistoryIndex, read: ReadOp): Violation[] {
  if (read.outcome !== "ok") return [];
  const { value } = read;
  if (value !== null && value !== undefined) return checkValueProvenance(index, read, value);
  if (read.timestampUs === undefined) return [];
  return tombstoneViolations(read, tombstoneProvenance(index, read.key, read));
}

/** What the judging of reads against acknowledged writes needs besides the index. */
interface Judging {
  readonly index: HistoryIndex;
  readonly excuses: PowerLossExcuses;
  /** Ids of acknowledged writes a read missed that power losses were allowed to take. */
  readonly excused: Set<number>;
}

/**
 * The newest quorum-acknowledged write (before `beforeMs`) the read is behind and no power loss
 * excuses.
 */
function missedWrite(judging: Judging, read: ReadOp, beforeMs?: number): WriteOp | undefined {
  const { index, excuses } = judging;
  const newest = newestAcked(index, read.key, beforeMs, (write) =>
    excuses.excuses(write, read.endMs),
  );
  if (excuses.active) {
    const strict = newestAcked(index, read.key, beforeMs);
    if (strict !== undefined && strict !== newest && isBehind(index, read, strict))
      judging.excused.add(strict.id);
  }
  return newest !== undefined && isBehind(index, read, newest) ? newest : undefined;
}

function checkRunReads(judging: Judging, ops: readonly HistoryOp[]): Violation[] {
  const { index } = judging;
  const found: Violation[] = [];
  for (const op of ops) {
    if (op.kind !== "read") continue;
    found.push(...checkProvenance(index, op));
    if (op.outcome !== "ok" || !index.overlaps(op.level)) continue;
    const before = missedWrite(judging, op, op.startMs);
    if (before === undefined) continue;
    const message =
      `quorum read #${op.id} on ${op.node} returned ${describeRead(op)}, older than ` +
      `${describeWrite(before)} acknowledged before it started` +
      judging.excuses.describeShortfall(before, op.endMs);
    found.push({ kind: "stale-read", key: op.key, ops: [op.id, before.id], message });
  }
  return found;
}

function checkFinalReads(judging: Judging, finalReads: readonly ReadOp[]): Violation[] {
  const { index } = judging;
  const found: Violation[] = [];
  for (const read of finalReads) {
    found.push(...checkProvenance(index, read));
    if (read.outcome !== "ok") {
      const why = read.error ?? read.status ?? "no answer";
      const message =
        `final quorum read #${read.id} of ${JSON.stringify(read.key)} on ${read.node} ` +
        `did not answer (${why})`;
      found.push({ kind: "final-read-failed", key: read.key, ops: [read.id], message });
      continue;
    }
    const newest = missedWrite(judging, read);
    if (newest === undefined) continue;
    const message =
      `final quorum read #${read.id} on ${read.node} returned ${describeRead(read)}; ` +
      `acknowledged ${describeWrite(newest)} is lost` +
      judging.excuses.describeShortfall(newest, read.endMs);
    found.push({ kind: "lost-write", key: read.key, ops: [read.id, newest.id], message });
  }
  return found;
}

function checkReplicaState(index: HistoryIndex, state: ReplicaState): Violation[] {
  const found: Violation[] = [];
  const key = JSON.stringify(state.key);
  const identity = state.copies.map(({ version }) => {
    if (version === null) return "none";
    const content = version.tombstone ? "tombstone" : version.value;
    return `${version.timestampUs}/${version.writer}/${content}/${version.expiresAtUs ?? "-"}`;
  });
  if (new Set(identity).size > 1) {
    const shown = state.copies.map(({ node, version }) => {
      if (version === null) return `${node}=none`;
      const content = version.tombstone ? "tombstone" : shownValue(version.value);
      const expiry = version.expiresAtUs === undefined ? "" : ` expiring ${version.expiresAtUs}`;
      return `${node}=${content}@${version.timestampUs}${expiry}`;
    });
    const message = `replicas of ${key} differ after settle: ${shown.join(", ")}`;
    found.push({ kind: "divergent-replicas", key: state.key, ops: [], message });
  }
  for (const { node, version } of state.copies) {
    if (version === null) continue;
    if (version.tombstone) {
      if ((index.deletesByKey.get(state.key) ?? []).length > 0) continue;
      const message = `${node} holds a tombstone for ${key}, but no operation deleted it`;
      found.push({ kind: "phantom-replica-value", key: state.key, ops: [], message });
      continue;
    }
    if (writeOf(index, state.key, version.value) !== undefined) continue;
    const value = shownValue(version.value);
    const message = `${node} holds ${value} for ${key}, which no operation wrote`;
    found.push({ kind: "phantom-replica-value", key: state.key, ops: [], message });
  }
  return found;
}

function invariantViolations(breaches: readonly InvariantBreach[]): Violation[] {
  return breaches.map((breach) => ({
    kind: "invariant-broken",
    key: "",
    ops: [],
    message: `${breach.node} broke ${breach.invariant} at ${breach.atMs} ms: ${breach.message}`,
  }));
}

function summarize(history: History, judging: Judging, violations: number): HistorySummary {
  const { index } = judging;
  const count = (predicate: (op: HistoryOp) => boolean): number =>
    history.ops.filter(predicate).length;
  const writes = count((op) => op.kind === "write");
  return {
    operations: history.ops.length,
    writes,
    deletes: count((op) => op.kind === "write" && op.value === null),
    reads: history.ops.length - writes,
    acked: count((op) => op.outcome === "ok"),
    failed: count((op) => op.outcome === "failed"),
    indeterminate: count((op) => op.outcome === "indeterminate"),
    quorumAckedWrites: [...index.quorumAcked.values()].reduce((sum, list) => sum + list.length, 0),
    finalReads: history.finalReads.length,
    keysChecked: history.replicas.length,
    lossesExcused: judging.excused.size,
    violations,
  };
}

export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const rf = options.replicationFactor ?? DEFAULT_REPLICATION_FACTOR;
  const writes = history.ops.filter((op): op is WriteOp => op.kind === "write");
  const index = indexHistory(writes, rf, options.clocks ?? history.clocks ?? EXPIRY_CLOCKS_DEFAULT);
  const excuses = new PowerLossExcuses(history.durability, history.replicas, rf);
  const judging: Judging = { index, excuses, excused: new Set() };
  const violations = [
    ...invariantViolations(history.invariants ?? []),
    ...checkRunReads(judging, history.ops),
    ...checkFinalReads(judging, history.finalReads),
    ...history.replicas.flatMap((state) => checkReplicaState(index, state)),
  ];
  const summary = summarize(history, judging, violations.length);
  return { ok: violations.length === 0, summary, violations };
}

/** The one summary line: operations, acked, failed, indeterminate, violations. */
export function formatSummary(name: string, summary: HistorySummary): string {
  const s = summary;
  return (
    `[history ${name}] operations ${s.operations} (writes ${s.writes}, deletes ${s.deletes}, ` +
    `reads ${s.reads}), acked ${s.acked}, failed ${s.failed}, indeterminate ${s.indeterminate}, ` +
    `quorum-acked writes ${s.quorumAckedWrites}, final reads ${s.finalReads}, ` +
    `keys checked ${s.keysChecked}, ` +
    (s.lossesExcused > 0 ? `losses excused by power losses ${s.lossesExcused}, ` : "") +
    `violations ${s.violations}`
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
    const shown = list.slice(0, VIOLATIONS_SHOWN_PER_KIND_MAX);
    for (const violation of shown) lines.push(`    ${violation.message}`);
  }
  return lines.join("\n");
}
