// cluster/removal-book.ts — the removals one view acts on and publishes: the ones this node drives
// (topology/remove-node), and the tombstones of members gone for good, which it remembers itself.
//
// Why tombstones. A removal used to live only in its remover's gossip state: when the remover
// restarted, its new generation published no removals, and every view brought the removed member
// back as normal, with its tokens (simulation seed 5, --faults ring,crash). So every view remembers
// each finished removal it hears of ("removed", at the target's generation) and each member it saw
// leave by itself (decommission, gossiped `left`), the node saves them with its known peers
// (topology/known-peers.ts) and loads them at start, and every node republishes them in its own
// `removals` state. A removal thus outlives any one node's restart, and a node that missed it (down
// meanwhile, its saved copy of the member still normal) hears it from anyone. A tombstone covers
// the generation it names and older ones (removal.ts `covers`): it beats a saved member and stale
// gossip, never a member that restarts with a newer generation.
//
// Bound: TOMBSTONES_MAX, newest kept, leaving room in REMOVALS_PER_MEMBER_MAX for the removals this
// node drives; the node drops a tombstone older than its horizon when it saves (known-peers.ts).

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { latestRemovals, REMOVALS_PER_MEMBER_MAX, withRemoval, type Removal } from "./removal.js";

/** A member gone for good: its id and the generation it was gone at. */
export interface Tombstone {
  readonly id: NodeId;
  readonly generation: number;
}

/** Tombstones one view remembers and republishes; the oldest is dropped beyond it. */
export const TOMBSTONES_MAX: number = 48;
assert(
  TOMBSTONES_MAX < REMOVALS_PER_MEMBER_MAX,
  "the removals a node drives fit beside its tombstones",
);

export class RemovalBook {
  /** Removals this node drives, newest last. */
  private local: Removal[] = [];
  /** Tombstones by member, oldest first. */
  private readonly tombstones = new Map<NodeId, Tombstone>();
  private byTarget = new Map<NodeId, Removal>();

  constructor(saved: readonly Tombstone[]) {
    for (const tombstone of saved) this.remember(tombstone);
  }

  /** Every known removal, by target: the latest generation, and "removed" over "removing". */
  get removalsByTarget(): ReadonlyMap<NodeId, Removal> {
    return this.byTarget;
  }

  /** The tombstones, oldest first, for the node to save. */
  tombstoneList(): Tombstone[] {
    return [...this.tombstones.values()];
  }

  /**
   * Whether a tombstone covers this generation of the member: it is gone and must not come back.
   */
  buries(id: NodeId, generation: number): boolean {
    const tombstone = this.tombstones.get(id);
    return tombstone !== undefined && generation <= tombstone.generation;
  }

  /** This node starts or advances a removal it drives. */
  announce(removal: Removal): void {
    this.local = withRemoval(this.local, removal);
    if (removal.phase === "removed") this.remember(removal);
  }

  /** Forgets tombstones (past their horizon); returns whether any was held. */
  forget(tombstones: readonly Tombstone[]): boolean {
    let changed = false;
    for (const { id, generation } of tombstones) {
      if (this.tombstones.get(id)?.generation !== generation) continue;
      this.tombstones.delete(id);
      changed = true;
    }
    return changed;
  }

  /**
   * Re-derives every removal from the members' published removals and the tombstones, and remembers
   * each finished one as a tombstone. Returns whether the tombstones changed (then republish).
   */
  refresh(members: Iterable<{ readonly removals: readonly Removal[] }>): boolean {
    const byTarget = latestRemovals([...members, { removals: this.tombstoneRemovals() }]);
    let learned = false;
    for (const removal of byTarget.values()) {
      if (removal.phase === "removed") learned = this.remember(removal) || learned;
    }
    this.byTarget = byTarget;
    return learned;
  }

  /**
   * Remembers a tombstone (a member that left by itself, or a finished removal); returns whether it
   * is new.
   */
  remember(tombstone: Tombstone): boolean {
    const known = this.tombstones.get(tombstone.id);
    if (known !== undefined && known.generation >= tombstone.generation) return false;
    this.tombstones.delete(tombstone.id);
    this.tombstones.set(tombstone.id, { id: tombstone.id, generation: tombstone.generation });
    while (this.tombstones.size > TOMBSTONES_MAX) {
      const oldest = this.tombstones.keys().next().value;
      if (oldest === undefined) break;
      this.tombstones.delete(oldest);
    }
    return true;
  }

  /**
   * What this node publishes as its `removals`: its tombstones, then the removals it drives (they
   * win).
   */
  published(): Removal[] {
    let removals = this.tombstoneRemovals();
    for (const removal of this.local) removals = withRemoval(removals, removal);
    return removals;
  }

  private tombstoneRemovals(): Removal[] {
    return [...this.tombstones.values()].map((tombstone) => ({
      ...tombstone,
      phase: "removed" as const,
    }));
  }
}
