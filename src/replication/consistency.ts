// replication/consistency.ts — consistency levels and how many replicas each one needs.
//
// Theory of operation. A request names how many of a key's rf replicas must answer: `one`,
// `quorum`, `all`, or an explicit count from 1 to rf (SPEC §2). Quorum is a strict majority,
// floor(rf/2) + 1, as in Dynamo's sloppy-quorum parameters (R, W, N) and Cassandra's QUORUM. Two
// majorities of the same rf replicas always share a replica, so with r + w > rf a read meets at
// least one replica that acknowledged the write: that is the SPEC §4 promise that a quorum read
// sees an acknowledged quorum write. The module is pure: text in, numbers out; a bad level is a
// ConsistencyError: a GrapevineError with the code `bad_consistency` (400), answered by the API as
// it is.

import { assert } from "../core/assert.js";
import { GrapevineError } from "../core/errors.js";
import { REPLICATION_FACTOR_MAX } from "../core/limits.js";

/** `one`, `quorum`, `all`, or an explicit replica count from 1 to the replication factor. */
export type ConsistencyLevel = "one" | "quorum" | "all" | number;

export const CONSISTENCY_LIMITS = {
  /** No replication factor exceeds this (core/limits.ts). */
  replicasMax: REPLICATION_FACTOR_MAX,
  /** Longer input is refused before any parsing, and never echoed whole into an error message. */
  levelTextLengthMax: 16,
} as const;

/**
 * An unknown level or a count the replication factor cannot meet: the client's error, 400
 * `bad_consistency`. A GrapevineError with a fixed code, not a class of its own kind: it keeps a
 * name because the config (--w, --r) and the CLI catch exactly this error to report it against the
 * option that carried the level, and let every other error through.
 */
export class ConsistencyError extends GrapevineError {
  override readonly name = "ConsistencyError";
  constructor(
    readonly input: string,
    message: string,
  ) {
    super("bad_consistency", message);
  }
}

function shown(text: string): string {
  return JSON.stringify(
    text.length > CONSISTENCY_LIMITS.levelTextLengthMax
      ? `${text.slice(0, CONSISTENCY_LIMITS.levelTextLengthMax)}…`
      : text,
  );
}

/**
 * Parses a level as a client writes it (`?w=quorum`, `--r 2`): case and surrounding spaces do not
 * matter. When replicationFactor is given, a count above it is refused here too.
 */
export function parseConsistency(text: string, replicationFactor?: number): ConsistencyLevel {
  const normalized = text.trim().toLowerCase();
  if (normalized.length <= CONSISTENCY_LIMITS.levelTextLengthMax) {
    if (normalized === "one" || normalized === "quorum" || normalized === "all") return normalized;
    if (/^[0-9]+$/.test(normalized)) {
      const count = Number(normalized);
      if (count >= 1 && count <= CONSISTENCY_LIMITS.replicasMax) {
        if (replicationFactor !== undefined) requiredReplicas(count, replicationFactor);
        return count;
      }
    }
  }
  throw new ConsistencyError(
    text,
    `consistency level must be one, quorum, all or a replica count from 1 to ${
      replicationFactor ?? CONSISTENCY_LIMITS.replicasMax
    }, got ${shown(text)}`,
  );
}

/** A strict majority of rf replicas. */
export function quorumOf(replicationFactor: number): number {
  checkReplicationFactor(replicationFactor);
  return Math.floor(replicationFactor / 2) + 1;
}

/** The replicas a request at `level` must hear from; a count above rf is a ConsistencyError. */
export function requiredReplicas(level: ConsistencyLevel, replicationFactor: number): number {
  checkReplicationFactor(replicationFactor);
  switch (level) {
    case "one":
      return 1;
    case "quorum":
      return quorumOf(replicationFactor);
    case "all":
      return replicationFactor;
    default: {
      if (!Number.isInteger(level) || level < 1) {
        throw new ConsistencyError(
          String(level),
          `a replica count must be a positive integer, got ${level}`,
        );
      }
      if (level > replicationFactor) {
        throw new ConsistencyError(
          String(level),
          `consistency level ${level} needs more replicas than the replication factor (${replicationFactor})`,
        );
      }
      return level;
    }
  }
}

/**
 * Whether every read at `read` meets a replica of every write acknowledged at `write`: r + w > rf.
 */
export function readsSeeWrites(
  read: ConsistencyLevel,
  write: ConsistencyLevel,
  replicationFactor: number,
): boolean {
  return (
    requiredReplicas(read, replicationFactor) + requiredReplicas(write, replicationFactor) >
    replicationFactor
  );
}

/** The level as text, as parseConsistency reads it back. */
export function consistencyToString(level: ConsistencyLevel): string {
  return String(level);
}

function checkReplicationFactor(replicationFactor: number): void {
  // The replication factor comes from the validated config, so a bad one is a bug.
  assert(
    Number.isInteger(replicationFactor) &&
      replicationFactor >= 1 &&
      replicationFactor <= CONSISTENCY_LIMITS.replicasMax,
    () =>
      `replication factor must be an integer from 1 to ${CONSISTENCY_LIMITS.replicasMax}, got ${replicationFactor}`,
  );
}
