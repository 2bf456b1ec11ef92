// cluster/ring-view.ts — the rings a view derives from its member records, built lazily. A change
// that can move a ring marks it stale (invalidate) and the next ring() call rebuilds it. Token
// lists stay as gossiped text (validated by shape) until a rebuild parses them, once per list: a
// thousand views in one simulator process would otherwise sort every ring on every gossip message.
// The ring's fingerprint is kept incrementally as owners change, so comparing rings costs no
// rebuild. Which ring changes are in progress (bootstrap, decommission, removenode) is read from
// the same records.

import type { NodeId } from "../core/ids.js";
import { hashId, Summary, type IdHash } from "../gossip/digest.js";
import { tokenFromString, type Token } from "../ring/partitioner.js";
import { TokenMap } from "../ring/token-map.js";
import type { RingChange } from "./engine.js";
import { isFutureOwner, isGone, isOwner, type MemberRecord } from "./member-record.js";
import { covers, type Removal } from "./removal.js";

export class RingView {
  /** The ring, or null when a change made it stale; ring() rebuilds it. */
  private tokenMap: TokenMap | null = TokenMap.empty;
  /** The ring once every ring change in progress completes, or null when stale. */
  private futureTokenMap: TokenMap | null = TokenMap.empty;
  private ownershipCache: Map<NodeId, number> | null = new Map();
  /** An order-independent hash of (owner, tokens) over the ring's owners, kept as they change. */
  private readonly ringSummary = new Summary();
  private readonly ownerHashes = new Map<NodeId, IdHash>();
  /** Parsed token lists by member, valid while the member's tokensText is the same string. */
  private readonly parsedTokens = new Map<NodeId, { text: string; tokens: readonly Token[] }>();

  constructor(private readonly records: ReadonlyMap<NodeId, MemberRecord>) {}

  ring(): TokenMap {
    if (this.tokenMap === null) this.tokenMap = this.buildRing(isOwner);
    return this.tokenMap;
  }

  /**
   * The ring once the ring changes in progress complete: normal and joining members, less leaving
   * ones.
   */
  futureRing(): TokenMap {
    if (this.futureTokenMap === null) {
      const built = this.buildRing(isFutureOwner);
      // The same object as the current ring when nothing is changing: the coordinator's cheap test.
      const current = this.ring();
      this.futureTokenMap = built.equals(current) ? current : built;
    }
    return this.futureTokenMap;
  }

  ownership(): Map<NodeId, number> {
    if (this.ownershipCache === null) {
      const ring = this.ring();
      this.ownershipCache = ring.size > 0 ? ring.ownership() : new Map();
    }
    return this.ownershipCache;
  }

  fingerprint(): string {
    return `${this.ownerHashes.size}:${this.ringSummary.toString()}`;
  }

  /** Some ring may have changed: rebuild both, and the ownership, when next asked. */
  invalidate(): void {
    this.tokenMap = null;
    this.futureTokenMap = null;
    this.ownershipCache = null;
  }

  /**
   * A member's tokens as an owner of the current ring (null: not an owner), for the fingerprint.
   */
  setOwnerHash(id: NodeId, tokensText: string | null): void {
    const before = this.ownerHashes.get(id);
    if (before !== undefined) this.ringSummary.remove(before);
    if (tokensText === null || tokensText === "") {
      this.ownerHashes.delete(id);
      return;
    }
    const hash = hashId(`${id}\u0000${tokensText}`);
    this.ownerHashes.set(id, hash);
    this.ringSummary.add(hash);
  }

  /**
   * What a member's change does: whether the monitor ring may move (it came, went or restarted) and
   * whether the current or future ring may (it became or stopped being an owner, or its tokens
   * moved).
   */
  noteChange(
    previous: MemberRecord | undefined,
    record: MemberRecord,
  ): { monitors: boolean; rings: boolean } {
    const monitors =
      previous === undefined ||
      isGone(previous) !== isGone(record) ||
      previous.generation !== record.generation;
    const tokensChanged = previous?.tokensText !== record.tokensText;
    const wasOwner = previous !== undefined && isOwner(previous);
    const nowOwner = isOwner(record);
    let rings = false;
    if ((wasOwner || nowOwner) && (wasOwner !== nowOwner || tokensChanged)) {
      rings = true;
      this.setOwnerHash(record.id, nowOwner ? record.tokensText : null);
    }
    const wasFuture = previous !== undefined && isFutureOwner(previous);
    const nowFuture = isFutureOwner(record);
    if ((wasFuture || nowFuture) && (wasFuture !== nowFuture || tokensChanged)) rings = true;
    return { monitors, rings };
  }

  private buildRing(include: (member: MemberRecord) => boolean): TokenMap {
    const owners = new Map<NodeId, readonly Token[]>();
    for (const member of this.records.values()) {
      if (!include(member)) continue;
      let parsed = this.parsedTokens.get(member.id);
      if (parsed === undefined || parsed.text !== member.tokensText) {
        parsed = {
          text: member.tokensText,
          tokens: member.tokensText.split(",").map(tokenFromString),
        };
        this.parsedTokens.set(member.id, parsed);
      }
      owners.set(member.id, parsed.tokens);
    }
    for (const id of this.parsedTokens.keys())
      if (!this.records.has(id)) this.parsedTokens.delete(id);
    return TokenMap.build(owners);
  }
}

/** Ring changes in progress as a view sees them, by member id (ClusterView.ringChanges). */
export function ringChangesOf(
  members: Iterable<MemberRecord>,
  removalsByTarget: ReadonlyMap<NodeId, Removal>,
): RingChange[] {
  const changes: RingChange[] = [];
  for (const member of members) {
    if (member.removed || member.status === "left") continue;
    const removal = removalsByTarget.get(member.id);
    if (
      removal !== undefined &&
      covers(removal, member.generation) &&
      removal.phase === "removing"
    ) {
      changes.push({ kind: "removenode", id: member.id });
    } else if (member.status === "leaving") {
      changes.push({ kind: "decommission", id: member.id });
    } else if (member.status === "joining" && member.tokenCount > 0) {
      changes.push({ kind: "bootstrap", id: member.id });
    }
  }
  return changes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
