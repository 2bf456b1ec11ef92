// cluster/member-record.ts — what a view keeps of each member: its gossiped endpoint state, read
// once into typed fields (the parsed forms cached against the text they came from, so an unchanged
// state is not parsed again), and the predicates that say which ring a member belongs to.

import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import type { Vote } from "../detector/failure-detector.js";
import type { EndpointState } from "../gossip/gossiper.js";
import {
  checkTokens,
  KEY_INCARNATION,
  KEY_LOAD,
  KEY_REMOVALS,
  KEY_SHUTDOWN,
  KEY_STATUS,
  KEY_TOKENS,
  KEY_VOTES,
  parseCount,
  parseLoad,
  parseRemovals,
  parseShutdown,
  parseStatus,
  parseVotes,
  tokenCountOf,
} from "./gossiped-state.js";
import type { MembershipEntry, MemberView } from "./engine.js";
import type { Removal } from "./removal.js";

export interface MemberRecord {
  id: NodeId;
  address: Address;
  generation: number;
  /** The status this view acts on: the gossiped one, overridden by a removal of this member. */
  status: MemberStatus;
  /** The status the member itself gossips. */
  gossipStatus: MemberStatus;
  /** Removed by another member (removenode): not shown, not in any ring. */
  removed: boolean;
  /**
   * Known only from what this node saved before it started (saved-members.ts): down, tokens kept.
   */
  saved: boolean;
  /** Removals this member publishes, and the text they were read from. */
  removals: readonly Removal[];
  removalsText: string;
  /** The gossiped token list, checked to be well-formed; parsed on the next ring rebuild. */
  tokensText: string;
  tokenCount: number;
  incarnation: number;
  /**
   * Votes this member holds as a monitor, by subject, and the gossiped text they were read from.
   */
  votes: ReadonlyMap<NodeId, Vote>;
  votesText: string;
  load: { keys: number; bytes: number } | null;
  /**
   * This generation announced a clean stop (gossiped-state.ts KEY_SHUTDOWN): down at once, ring
   * unchanged.
   */
  shutdown: boolean;
}

export interface RecordReading {
  /** The status the view acts on, given the member's gossiped one (removal.ts effectiveStatus). */
  readonly effectiveStatus: (
    id: NodeId,
    generation: number,
    gossipStatus: MemberStatus,
  ) => { status: MemberStatus; removed: boolean };
  readonly tokensPerMemberMax: number;
  readonly votesPerMemberMax: number;
  /** Counts a malformed state, which is then ignored. */
  readonly onMalformed: () => void;
}

/**
 * A member's record from its endpoint state; `previous` supplies what a malformed state leaves out.
 */
export function readRecord(
  id: NodeId,
  endpoint: EndpointState,
  previous: MemberRecord | undefined,
  reading: RecordReading,
): MemberRecord {
  const gossipStatus =
    parseStatus(endpoint.appStates.get(KEY_STATUS)?.value) ?? previous?.gossipStatus ?? "joining";
  const removalsText = endpoint.appStates.get(KEY_REMOVALS)?.value ?? "[]";
  const removals =
    previous !== undefined && previous.removalsText === removalsText
      ? previous.removals
      : parseRemovals(removalsText, reading.onMalformed);
  const { status, removed } = reading.effectiveStatus(id, endpoint.generation, gossipStatus);
  const tokensText =
    checkTokens(
      endpoint.appStates.get(KEY_TOKENS)?.value,
      reading.tokensPerMemberMax,
      reading.onMalformed,
    ) ??
    previous?.tokensText ??
    "";
  const incarnation = parseCount(endpoint.appStates.get(KEY_INCARNATION)?.value) ?? 0;
  const votesText = endpoint.appStates.get(KEY_VOTES)?.value ?? "[]";
  const votes =
    previous !== undefined && previous.votesText === votesText
      ? previous.votes
      : parseVotes(votesText, reading.votesPerMemberMax, reading.onMalformed);
  const load = parseLoad(endpoint.appStates.get(KEY_LOAD)?.value);
  return {
    id,
    address: endpoint.address,
    generation: endpoint.generation,
    status,
    gossipStatus,
    removed,
    saved: false,
    removals,
    removalsText,
    tokensText,
    tokenCount: tokenCountOf(tokensText),
    incarnation,
    votes,
    votesText,
    load,
    shutdown: parseShutdown(endpoint.appStates.get(KEY_SHUTDOWN)?.value),
  };
}

/** Whether a member's change may move the verdicts: a new record, or new liveness facts. */
export function livenessMayDiffer(
  previous: MemberRecord | undefined,
  record: MemberRecord,
): boolean {
  return (
    previous === undefined ||
    previous.incarnation !== record.incarnation ||
    previous.generation !== record.generation ||
    previous.votes !== record.votes ||
    previous.shutdown !== record.shutdown ||
    previous.saved !== record.saved
  );
}

/** Gone from the cluster: left by itself, or removed. */
export function isGone(member: MemberRecord): boolean {
  return member.status === "left" || member.removed;
}

/** Owns ranges of the current ring: normal, or leaving and not yet done streaming. */
export function isOwner(member: MemberRecord): boolean {
  return (
    !member.removed &&
    (member.status === "normal" || member.status === "leaving") &&
    member.tokenCount > 0
  );
}

/** Owns ranges of the future ring: normal, or joining with announced tokens. */
export function isFutureOwner(member: MemberRecord): boolean {
  return (
    !member.removed &&
    (member.status === "normal" || member.status === "joining") &&
    member.tokenCount > 0
  );
}

/**
 * Members in state joining that have not announced tokens yet: nodes waiting for their turn,
 * sorted.
 */
export function membersWaitingToJoin(records: Iterable<MemberRecord>): NodeId[] {
  const waiting: NodeId[] = [];
  for (const member of records) {
    if (!member.removed && member.status === "joining" && member.tokenCount === 0)
      waiting.push(member.id);
  }
  return waiting.sort();
}

/**
 * Every member not removed, with its id, generation, status and liveness
 * (ClusterEngine.membership).
 */
export function membershipOf(
  records: Iterable<MemberRecord>,
  isLive: (id: NodeId) => boolean,
): MembershipEntry[] {
  const entries: MembershipEntry[] = [];
  for (const member of records) {
    if (member.removed) continue;
    entries.push({
      id: member.id,
      generation: member.generation,
      status: member.status,
      live: isLive(member.id),
    });
  }
  return entries;
}

/**
 * What the view knows of a member beyond its gossiped record: liveness, phi, heartbeat, ownership.
 */
export type MemberFacts = Pick<MemberView, "live" | "phi" | "heartbeat" | "ownership">;

/**
 * One member as the view shows it (members(), member()): its record and the view's facts about it.
 */
export function memberViewOf(member: MemberRecord, facts: MemberFacts): MemberView {
  return {
    id: member.id,
    address: member.address,
    status: member.status,
    ...facts,
    generation: member.generation,
    tokens: member.tokenCount,
    keys: member.load?.keys ?? null,
    bytes: member.load?.bytes ?? null,
    shutdown: member.shutdown,
  };
}
