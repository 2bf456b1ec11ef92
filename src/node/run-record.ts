// node/run-record.ts — what one run of the node leaves for the next: `<data-dir>/run.json`, and the
// rule that decides from it whether this start may have lost acknowledged writes.
//
// With `--sync off` a replica acknowledges a write once it reached LevelDB's log in the OS's page
// cache. A process crash (SIGKILL, OOM) keeps the page cache, so nothing acknowledged is lost; a
// power loss (or a kernel crash) drops the unsynced tail, and the node restarts without writes it
// acknowledged. It cannot tell which writes, but it can tell that it may have: the previous run did
// not stop cleanly, ran with sync off, and the machine has booted since (the kernel's boot id
// changed). Such a node must not answer reads as a replica until it has repaired its ranges from
// its peers, or a quorum read that pairs it with the replica that never had the write misses an
// acknowledged write (SPEC §4 counts it as a replica that lost its disk). The same holds for
// Cassandra after a disk loss: the node is rebuilt before it serves. A recovery that was
// interrupted resumes.

import { assert } from "../core/assert.js";

export const RUN_RECORD_FILE = "run.json";
const RUN_RECORD_FORMAT = 1;

export interface RunRecord {
  /** The kernel's boot id when the run started: a different one now means the machine rebooted. */
  readonly bootId: string;
  /** The run's --sync: with sync on every acknowledged write was fsynced first. */
  readonly sync: boolean;
  /** The run ended with a clean stop (its store closed). */
  readonly cleanStop: boolean;
  /** The run was still repairing after a loss: not a read replica until it finishes. */
  readonly recovering: boolean;
}

export type RecoveryReason =
  "clean" | "first-start" | "synced" | "same-boot" | "lost-page-cache" | "resumed";

export interface StartDecision {
  readonly recovering: boolean;
  readonly reason: RecoveryReason;
}

/** Whether this start may have lost acknowledged writes, from the previous run's record. */
export function decideStart(previous: RunRecord | undefined, bootId: string): StartDecision {
  assert(bootId.length > 0, "a boot id is a non-empty string");
  // No record: a new data dir, or one written before run.json existed (nothing to go on).
  if (previous === undefined) return { recovering: false, reason: "first-start" };
  if (previous.recovering) return { recovering: true, reason: "resumed" };
  if (previous.cleanStop) return { recovering: false, reason: "clean" };
  if (previous.sync) return { recovering: false, reason: "synced" };
  if (previous.bootId === bootId) return { recovering: false, reason: "same-boot" };
  return { recovering: true, reason: "lost-page-cache" };
}

export function encodeRunRecord(record: RunRecord): string {
  return `${JSON.stringify({ format: RUN_RECORD_FORMAT, ...record })}\n`;
}

/** The record in a parsed run.json, or undefined when it is not one this version understands. */
export function parseRunRecord(value: unknown): RunRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const fields = value as Record<string, unknown>;
  const { format, bootId, sync, cleanStop, recovering } = fields;
  if (format !== RUN_RECORD_FORMAT || typeof bootId !== "string" || bootId.length === 0)
    return undefined;
  if (
    typeof sync !== "boolean" ||
    typeof cleanStop !== "boolean" ||
    typeof recovering !== "boolean"
  )
    return undefined;
  return { bootId, sync, cleanStop, recovering };
}
