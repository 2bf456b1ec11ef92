// cluster/saved-members.ts — the members a view knew, as the node saves them for its next start
// (Cassandra's saved endpoints: system.peers with tokens), and how a starting view takes them back.
//
// Why: a node starts knowing only itself, and learns the others by gossip. After a whole-cluster
// restart with one member still down nobody gossips that member, so every view served without it:
// its ranges fell to others and writes meanwhile went to the wrong replicas. So a view starts with
// the members it saved, each as it was last seen (address, generation, status, tokens) but down: a
// `saved` record, down without votes like a shut-down member (liveness.ts), whose tokens stay in
// the ring, so writes to its ranges keep their replicas and hint the missing one.
//
// The merge. Gossip is the truth and replaces a saved record as soon as it brings the member at the
// saved generation or a newer one; an older generation is a stale copy and is ignored while the
// saved record stands. A tombstone (removal-book.ts) beats a saved member of its generation or
// older: a restart never brings back a member that was removed or decommissioned, nor its tokens.

import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import { tokenFromString, type Token } from "../ring/partitioner.js";
import { encodeTokens, tokenCountOf } from "./gossiped-state.js";
import type { MemberRecord } from "./member-record.js";
import type { Tombstone } from "./removal-book.js";

/** One member as a view last saw it. */
export interface SavedMember {
  readonly id: NodeId;
  readonly address: Address;
  readonly generation: number;
  readonly status: Exclude<MemberStatus, "left">;
  readonly tokens: readonly Token[];
}

/**
 * What a view saves for the next start, and what that start gives back
 * (ClusterEngineOptions.saved).
 */
export interface SavedMembership {
  readonly members: readonly SavedMember[];
  readonly tombstones: readonly Tombstone[];
}

export const NO_SAVED_MEMBERSHIP: SavedMembership = { members: [], tombstones: [] };

/** The records a starting view takes from what it saved: every other member no tombstone covers. */
export function restoredRecords(
  saved: SavedMembership,
  self: NodeId,
  buries: (id: NodeId, generation: number) => boolean,
): MemberRecord[] {
  const records = new Map<NodeId, MemberRecord>();
  for (const member of saved.members) {
    if (member.id === self || buries(member.id, member.generation)) continue;
    const known = records.get(member.id);
    if (known !== undefined && known.generation >= member.generation) continue;
    records.set(member.id, savedRecord(member));
  }
  return [...records.values()];
}

function savedRecord(member: SavedMember): MemberRecord {
  const tokensText = encodeTokens(member.tokens);
  return {
    id: member.id,
    address: member.address,
    generation: member.generation,
    status: member.status,
    gossipStatus: member.status,
    removed: false,
    saved: true,
    removals: [],
    removalsText: "[]",
    tokensText,
    tokenCount: tokenCountOf(tokensText),
    incarnation: 0,
    votes: new Map(),
    votesText: "[]",
    load: null,
    shutdown: false,
  };
}

/**
 * Whether gossip of this generation replaces the record held: always, unless it is saved and newer.
 */
export function gossipReplaces(held: MemberRecord | undefined, generation: number): boolean {
  return held === undefined || !held.saved || generation >= held.generation;
}

/**
 * The members to save: every other member not gone, in id order. A joiner that has not announced
 * tokens owns nothing yet: kept, it would only stand in the queue of joiners until it came back.
 */
export function savedMembersOf(records: Iterable<MemberRecord>, self: NodeId): SavedMember[] {
  const members: SavedMember[] = [];
  for (const record of records) {
    if (record.id === self || record.removed || record.status === "left") continue;
    if (record.status === "joining" && record.tokenCount === 0) continue;
    const tokens =
      record.tokensText === "" ? [] : record.tokensText.split(",").map(tokenFromString);
    members.push({
      id: record.id,
      address: record.address,
      generation: record.generation,
      status: record.status,
      tokens,
    });
  }
  return members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
