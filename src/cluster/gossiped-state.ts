// cluster/gossiped-state.ts — the application states a view publishes for its member, as text on
// the wire, and how a view reads other members' states back. Every gossiped state is input from
// another node: it is checked by shape and bounded before use, and a malformed one is ignored and
// counted (onMalformed), never trusted (ARCHITECTURE §6.5).

import type { MemberStatus, NodeId } from "../core/ids.js";
import { MEMBER_STATUSES } from "../core/ids.js";
import type { Vote } from "../detector/failure-detector.js";
import { tokenToString } from "../ring/partitioner.js";
import { REMOVALS_PER_MEMBER_MAX, type Removal } from "./removal.js";

export const KEY_STATUS = "status";
export const KEY_TOKENS = "tokens";
export const KEY_LOAD = "load";
export const KEY_VOTES = "votes";
export const KEY_INCARNATION = "incarnation";
export const KEY_REMOVALS = "removals";
/**
 * Set by a member that is stopping cleanly (SIGTERM, `grapevine stop`): Cassandra's `shutdown`.
 * Unlike `leaving` it is no ring change: the member keeps its tokens and nobody moves its ranges;
 * peers only count it down at once instead of waiting for its monitors to convict it. Its next
 * start gossips a newer generation, whose fresh state has no such key, so it is up again.
 */
export const KEY_SHUTDOWN = "shutdown";
export const SHUTDOWN_VALUE = "true";
export const URGENT_KEYS = [
  KEY_STATUS,
  KEY_VOTES,
  KEY_INCARNATION,
  KEY_REMOVALS,
  KEY_TOKENS,
  KEY_SHUTDOWN,
];

/** Characters per token in the gossiped list: 16 hex digits and a comma. */
const TOKEN_TEXT_STRIDE = 17;
const TOKEN_LIST_PATTERN = /^[0-9a-f]{16}(?:,[0-9a-f]{16})*$/;

export function encodeTokens(tokens: readonly bigint[]): string {
  return tokens.map(tokenToString).join(",");
}

/** Tokens in a well-formed (checkTokens) token list. */
export function tokenCountOf(tokensText: string): number {
  return tokensText === "" ? 0 : (tokensText.length + 1) / TOKEN_TEXT_STRIDE;
}

export function encodeLoad(load: { readonly keys: number; readonly bytes: number }): string {
  return `${load.keys},${load.bytes}`;
}

export function encodeRemovals(removals: readonly Removal[]): string {
  return JSON.stringify(removals.map((r) => [r.id, r.generation, r.phase]));
}

/** A token list is 16 hex digits per token, comma-separated; anything else is a malformed state. */
export function checkTokens(
  text: string | undefined,
  tokensMax: number,
  onMalformed: () => void,
): string | undefined {
  if (text === undefined) return undefined;
  if (text === "") return "";
  const count = (text.length + 1) / TOKEN_TEXT_STRIDE;
  if (!Number.isInteger(count) || count > tokensMax || !TOKEN_LIST_PATTERN.test(text)) {
    onMalformed();
    return undefined;
  }
  return text;
}

export function parseRemovals(text: string, onMalformed: () => void): Removal[] {
  if (text === "[]") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    onMalformed();
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length > REMOVALS_PER_MEMBER_MAX) {
    onMalformed();
    return [];
  }
  const removals: Removal[] = [];
  for (const item of parsed as unknown[]) {
    if (
      isUnknownArray(item) &&
      item.length === 3 &&
      typeof item[0] === "string" &&
      isCount(item[1]) &&
      (item[2] === "removing" || item[2] === "removed")
    ) {
      removals.push({ id: item[0], generation: item[1], phase: item[2] });
    } else {
      onMalformed();
    }
  }
  return removals;
}

export function parseVotes(
  text: string,
  votesMax: number,
  onMalformed: () => void,
): ReadonlyMap<NodeId, Vote> {
  const votes = new Map<NodeId, Vote>();
  if (text === "[]") return votes;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    onMalformed();
    return votes;
  }
  if (!Array.isArray(parsed) || parsed.length > votesMax) {
    onMalformed();
    return votes;
  }
  for (const item of parsed) {
    if (isVote(item)) votes.set(item.subject, item);
    else onMalformed();
  }
  return votes;
}

function isVote(value: unknown): value is Vote {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["subject"] === "string" &&
    isCount(v["generation"]) &&
    isCount(v["incarnation"]) &&
    typeof v["phi"] === "number" &&
    isCount(v["samples"]) &&
    typeof v["silentMs"] === "number" &&
    typeof v["atMs"] === "number"
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

export function parseStatus(text: string | undefined): MemberStatus | undefined {
  return MEMBER_STATUSES.find((status) => status === text);
}

/**
 * Only the one value counts; anything else (an unknown future value included) is not a shutdown.
 */
export function parseShutdown(text: string | undefined): boolean {
  return text === SHUTDOWN_VALUE;
}

export function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

export function parseLoad(text: string | undefined): { keys: number; bytes: number } | null {
  if (text === undefined) return null;
  const match = /^(\d{1,15}),(\d{1,15})$/.exec(text);
  if (match === null) return null;
  return { keys: Number(match[1]), bytes: Number(match[2]) };
}

/** Array.isArray narrows to any[]; gossiped JSON is unknown until each element is checked. */
function isUnknownArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}
