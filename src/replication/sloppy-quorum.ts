// replication/sloppy-quorum.ts — which nodes stand in for a key's down replicas, and how many
// acknowledgements must come from the replicas themselves (issue 16 §4).
//
// Theory of operation (Dynamo §4.6; Riak's pw/pr). The preference list of a key is its rf replicas
// (ring/placement.ts) followed by the next distinct nodes walking clockwise. A write whose primary
// replicas are down is sent, for each down primary, to the next live node of the list past the
// replica set: a fallback, which holds the write for that primary and hands it off when it is back
// (fallback-copies.ts). Fallback acknowledgements count toward `w`; `pw` says how many of the `w`
// must come from primaries, and `pr` the same for reads. The default is strict, pw = w and pr = r,
// so SPEC §4's promise holds (a quorum read meets a primary that acknowledged every quorum write);
// pw = 0 / pr = 0 (--sloppy-quorum on) is Dynamo's always-writeable store, whose acknowledged
// writes become visible to quorum reads only once their fallbacks handed them off. Pure: lists and
// numbers in, plans out.

import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { REPLICATION_FACTOR_MAX } from "../core/limits.js";
import {
  ConsistencyError,
  parseConsistency,
  requiredReplicas,
  type ConsistencyLevel,
} from "./consistency.js";

/**
 * A level of primaries: a consistency level, or the count 0 (no acknowledgement need be a
 * primary's), which a ConsistencyLevel's number already admits.
 */
export type PrimaryLevel = ConsistencyLevel;

/** How far past the rf replicas the preference list reaches for fallbacks: rf more, at most. */
export function preferenceListLength(replicationFactor: number): number {
  return Math.min(REPLICATION_FACTOR_MAX, 2 * replicationFactor + 1);
}

/** Parses `pw`/`pr` as a client writes them: `0` or any consistency level. */
export function parsePrimaryLevel(text: string, replicationFactor?: number): PrimaryLevel {
  if (text.trim() === "0") return 0;
  try {
    return parseConsistency(text, replicationFactor);
  } catch (error) {
    if (!(error instanceof ConsistencyError)) throw error;
    throw new ConsistencyError(
      text,
      `a primary level (pw, pr) must be 0, one, quorum, all or a replica count up to the replication factor: ${error.message}`,
    );
  }
}

/** The acknowledgements at `level` that must be primaries'. */
export function requiredPrimaries(level: PrimaryLevel, replicationFactor: number): number {
  return level === 0 ? 0 : requiredReplicas(level, replicationFactor);
}

/**
 * The primaries a request needs, checked against its level: pw ≤ w, pr ≤ r, or a 400
 * `bad_consistency` naming both. Undefined `primary` is the strict default (= the level's count).
 */
export function checkedPrimaries(
  name: "pw" | "pr",
  primary: PrimaryLevel | undefined,
  level: ConsistencyLevel,
  replicationFactor: number,
): number {
  const required = requiredReplicas(level, replicationFactor);
  if (primary === undefined) return required;
  const primaries = requiredPrimaries(primary, replicationFactor);
  if (primaries > required) {
    const of = name === "pw" ? "w" : "r";
    throw new GrapevineError(
      "bad_consistency",
      `${name} (${String(primary)}, ${primaries} replicas) must not exceed ${of} (${String(level)}, ${required} replicas)`,
    );
  }
  return primaries;
}

/** A node asked to hold a write for a down primary. */
export interface Fallback {
  readonly node: NodeId;
  readonly primary: NodeId;
}

/**
 * For each down primary of `replicas`, in order, the next node of `preference` past the replica set
 * that can hold a copy (`canHold`: live, and keeping fallbacks) and is not chosen yet; a down
 * primary past the candidates gets none.
 */
export function fallbacksFor(
  preference: readonly NodeId[],
  replicas: readonly NodeId[],
  isUp: (node: NodeId) => boolean,
  canHold: (node: NodeId) => boolean = isUp,
): Fallback[] {
  return planFallbacks(preference, replicas, isUp, canHold).fallbacks;
}

/** The fallbacks chosen, and the candidates left, in order, for one that refuses (full). */
export interface FallbackPlan {
  readonly fallbacks: Fallback[];
  readonly spares: NodeId[];
}

/** fallbacksFor, with the candidates not chosen: the next to ask when a fallback refuses. */
export function planFallbacks(
  preference: readonly NodeId[],
  replicas: readonly NodeId[],
  isUp: (node: NodeId) => boolean,
  canHold: (node: NodeId) => boolean = isUp,
): FallbackPlan {
  const candidates = preference.filter((node) => !replicas.includes(node) && canHold(node));
  const fallbacks: Fallback[] = [];
  for (const primary of replicas) {
    if (isUp(primary)) continue;
    const node = candidates[fallbacks.length];
    if (node === undefined) break;
    fallbacks.push({ node, primary });
  }
  return { fallbacks, spares: candidates.slice(fallbacks.length) };
}
