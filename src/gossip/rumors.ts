// gossip/rumors.ts — urgent changes pushed at once as rumors, beside the periodic exchange.
//
// Urgent keys (status, votes, incarnation) are pushed infection-style (Demers et al., "Epidemic
// algorithms for replicated database maintenance", 1987): when a node changes one, or learns a
// newer value of one about a member it already knew, it pushes that member's delta to `rumorFanout`
// random live members, once. Each (member, generation, version) is applied once, so it is forwarded
// once; a rumor dies out when every node has it. The very first states of a node (set before its
// first round) are its introduction and travel by exchange, not by rumor, so a cluster starting
// cold does not flood; likewise a member first heard of is not re-rumored (gossiper.ts decides what
// to queue).
//
// Bound: members with a rumor waiting (rumorsPendingMax); beyond it a new rumor is dropped and
// counted. Nothing is lost by dropping: the exchange still delivers what a dropped rumor would
// have.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { cutDelta } from "./endpoint-state.js";
import type { EndpointTable } from "./endpoint-table.js";
import { GOSSIP_LIMITS, type Delta } from "./messages.js";
import { pickRumorTargets } from "./peer-selection.js";

export interface RumorOptions {
  readonly self: NodeId;
  readonly rumorFanout: number;
  readonly rumorsPendingMax: number;
  readonly deltasPerMessageMax: number;
  readonly deltaBytesPerMessageMax: number;
}

/** What to push now: each batch of deltas is one rumor message, sent to every target. */
export interface RumorPush {
  readonly targets: readonly NodeId[];
  readonly batches: readonly Delta[][];
}

export class RumorQueue {
  private readonly options: RumorOptions;
  private readonly table: EndpointTable;
  private readonly random: Random;
  /** Member → oldest urgent version not yet rumored. */
  private readonly pending = new Map<NodeId, number>();

  constructor(options: RumorOptions, table: EndpointTable, random: Random) {
    this.options = options;
    this.table = table;
    this.random = random;
  }

  /**
   * Queues a rumor of member `id` from `version` on; false when it was dropped at rumorsPendingMax.
   */
  queue(id: NodeId, version: number): boolean {
    const pending = this.pending.get(id);
    if (pending !== undefined) {
      this.pending.set(id, Math.min(pending, version));
    } else if (this.pending.size >= this.options.rumorsPendingMax) {
      return false;
    } else {
      this.pending.set(id, version);
    }
    return true;
  }

  /** Drops a member's waiting rumor (the member was forgotten). */
  forget(id: NodeId): void {
    this.pending.delete(id);
  }

  /**
   * Takes every pending rumor for `rumorFanout` random live members (not `exclude`, who told us).
   * With no live member to tell, rumors wait and null is returned.
   */
  take(isLive: (id: NodeId) => boolean, exclude: NodeId | null): RumorPush | null {
    if (this.pending.size === 0 || this.options.rumorFanout === 0) return null;
    const subjects = [...this.pending.keys()];
    const onlySubject = subjects.length === 1 ? subjects[0] : undefined;
    const { self } = this.options;
    const targets = pickRumorTargets(
      {
        members: this.table.ids(),
        count: this.options.rumorFanout,
        eligible: (id) => id !== self && id !== exclude && id !== onlySubject && isLive(id),
      },
      this.random,
    );
    if (targets.length === 0) return null;
    const batches = this.cutBatches();
    this.pending.clear();
    return { targets, batches };
  }

  /**
   * The pending rumors as deltas, in batches within one message's budget. A rumor of member X from
   * version u claims (u-1, maxVersion] when we hold X completely that far, else just its oldest
   * state at or above u, which is a claim of its own.
   */
  private cutBatches(): Delta[][] {
    const { deltasPerMessageMax, deltaBytesPerMessageMax } = this.options;
    const batches: Delta[][] = [];
    let current: Delta[] = [];
    let bytes = 0;
    for (const [id, version] of this.pending) {
      const record = this.table.get(id);
      if (record === undefined) continue;
      let claim: { fromVersion: number; throughVersion: number };
      if (record.maxVersion >= version) {
        claim = { fromVersion: version - 1, throughVersion: record.maxVersion };
      } else {
        const oldest = record.oldestStateFrom(version);
        if (oldest === undefined) continue;
        claim = { fromVersion: oldest.version - 1, throughVersion: oldest.version };
      }
      let cut =
        current.length < deltasPerMessageMax
          ? cutDelta(record, claim, deltaBytesPerMessageMax - bytes)
          : null;
      if (cut === null && current.length > 0) {
        batches.push(current);
        current = [];
        bytes = 0;
        cut = cutDelta(record, claim, deltaBytesPerMessageMax);
      }
      if (cut === null) cut = cutDelta(record, claim, GOSSIP_LIMITS.deltaBytesPerMessageMax);
      assert(cut !== null, "one entry with one state fits deltaBytesPerMessageMax");
      current.push(cut.delta);
      bytes += cut.bytes;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }
}
