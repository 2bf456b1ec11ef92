// gossip/endpoint-table.ts — the members one gossiper knows: each member's endpoint record, their
// ids in the order every node shares, which seed address belongs to which member, and the 64-bit
// summary.
//
// The summary (digest.ts) must equal the sum of every held record's digest hash at all times, since
// a peer stays silent when summaries agree: a record added, replaced, removed or whose digest moved
// updates it here, in the same call, and nowhere else. Ids are sorted lazily: a delta can add
// thousands of members at once, and only digest windows and rounds need the order.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import { Summary } from "./digest.js";
import type { EndpointRecord } from "./endpoint-state.js";

export class EndpointTable {
  private readonly records = new Map<NodeId, EndpointRecord>();
  /** Every known id, this node's included; sorted lazily (a delta can add thousands at once). */
  private readonly idList: NodeId[] = [];
  private idsSorted = true;
  /**
   * Seed address → the id of the member there, once known (only seeds: a map of every address would
   * cost N² in a simulator).
   */
  private readonly seedIds = new Map<Address, NodeId>();
  private readonly seedSet: ReadonlySet<Address>;
  private readonly summaryHash = new Summary();

  constructor(seeds: ReadonlySet<Address>) {
    this.seedSet = seeds;
  }

  /** Members held, this node included. */
  get size(): number {
    return this.records.size;
  }

  get(id: NodeId): EndpointRecord | undefined {
    return this.records.get(id);
  }

  /** The record of a member that must be held. */
  recordOf(id: NodeId): EndpointRecord {
    const record = this.records.get(id);
    assert(record !== undefined, () => `no endpoint state for ${id}`);
    return record;
  }

  /** The ids in string order, the same on every node: digest windows are ranges of it. */
  sortedIds(): readonly NodeId[] {
    if (!this.idsSorted) {
      this.idList.sort();
      this.idsSorted = true;
    }
    return this.idList;
  }

  /** The ids as they stand: sorted as of the last sortedIds(), members added since at the end. */
  ids(): readonly NodeId[] {
    return this.idList;
  }

  /** The id of the member at a seed address, once known. */
  seedId(seed: Address): NodeId | undefined {
    return this.seedIds.get(seed);
  }

  /** The 64-bit summary of every digest held (16 hex digits). */
  summary(): string {
    return this.summaryHash.toString();
  }

  add(record: EndpointRecord): void {
    assert(!this.records.has(record.id), "a member is added once");
    this.records.set(record.id, record);
    this.idList.push(record.id);
    this.idsSorted = false;
    if (this.seedSet.has(record.address)) this.seedIds.set(record.address, record.id);
    this.summaryHash.add(record.hash);
  }

  replace(old: EndpointRecord, next: EndpointRecord): void {
    assert(
      old.id === next.id && next.generation > old.generation,
      "a restart replaces with a newer generation",
    );
    this.summaryHash.remove(old.hash);
    if (this.seedIds.get(old.address) === old.id) this.seedIds.delete(old.address);
    this.records.set(next.id, next);
    if (this.seedSet.has(next.address)) this.seedIds.set(next.address, next.id);
    this.summaryHash.add(next.hash);
  }

  /** Drops a member; returns false when it was not held. */
  remove(id: NodeId): boolean {
    const record = this.records.get(id);
    if (record === undefined) return false;
    this.records.delete(id);
    this.summaryHash.remove(record.hash);
    const index = this.idList.indexOf(id);
    assert(index >= 0, "ids holds every known member");
    this.idList.splice(index, 1);
    if (this.seedIds.get(record.address) === id) this.seedIds.delete(record.address);
    return true;
  }

  /**
   * Keeps the summary equal to the sum over current digests after a record's digest may have moved.
   */
  rehash(record: EndpointRecord): void {
    const moved = record.rehash();
    if (moved === null) return;
    this.summaryHash.remove(moved.before);
    this.summaryHash.add(moved.after);
  }
}
