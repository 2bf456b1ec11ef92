// replication/list-merge.ts — merging the key pages of several replicas of one token range into
// the bucket's live keys, each exactly once, in token order (issue 17 §4). Pure: pages in, keys
// and the replicas to ask next out; replication/key-lister.ts does the asking.
//
// Theory of operation. Each replica answers pages of its keys in token order (storage/
// bucket-scan.ts), each page saying how far the replica has looked (`reached`). The frontier is
// the smallest position every replica has looked past: a key at or before the frontier is known
// to every asked replica that holds it, so it can be decided and emitted; a key beyond it must
// wait, since a replica that has not looked that far may hold a newer version (a delete) of it.
// The replicas whose `reached` is the frontier are the ones to ask next (each page moves its
// replica strictly forward, so the frontier always advances). Versions of one key from several
// replicas resolve as the stored records do, last write wins (storage/record.ts: timestamp, then
// writer, a tombstone winning a tie), and a key whose winner is a tombstone is dropped: a key
// deleted at `w` replicas is not listed at `r` replicas when r + w > rf, as a read would not see
// it. Memory is bounded by one page per replica.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { storedKeyOf } from "../storage/bucket-keys.js";
import type { BucketScanEntry, BucketScanPage, ScanPosition } from "../storage/bucket-scan.js";

/** Token order of storage keys: token, then the stored key's UTF-8 bytes (layout.ts). */
export function comparePositions(a: ScanPosition, b: ScanPosition): number {
  if (a.token !== b.token) return a.token < b.token ? -1 : 1;
  if (a.storedKey === b.storedKey) return 0;
  return Buffer.compare(Buffer.from(a.storedKey, "utf8"), Buffer.from(b.storedKey, "utf8"));
}

/** How far one replica has looked: before its first page, at a position, or to the range's end. */
type Reach =
  | { readonly kind: "start" }
  | { readonly kind: "at"; readonly position: ScanPosition }
  | { readonly kind: "done" };

function compareReach(a: Reach, b: Reach): number {
  if (a.kind === b.kind) {
    return a.kind === "at" && b.kind === "at" ? comparePositions(a.position, b.position) : 0;
  }
  const rank = { start: 0, at: 1, done: 2 } as const;
  return rank[a.kind] - rank[b.kind];
}

interface ReplicaState {
  readonly buffered: PositionedEntry[];
  reach: Reach;
}

interface PositionedEntry {
  readonly entry: BucketScanEntry;
  readonly position: ScanPosition;
}

/** A key decided by the merge: live, with its place in token order. */
export interface MergedKey {
  readonly key: string;
  readonly position: ScanPosition;
}

/** Last write wins, as storage/record.ts compareRecords orders versions. */
function newer(a: BucketScanEntry, b: BucketScanEntry): BucketScanEntry {
  if (a.timestampUs !== b.timestampUs) return a.timestampUs > b.timestampUs ? a : b;
  if (a.writer !== b.writer) return a.writer > b.writer ? a : b;
  return a.tombstone ? a : b;
}

/** The merge of one range's replicas (the module's comment). */
export class ListMerge {
  readonly #bucket: string;
  readonly #replicas = new Map<NodeId, ReplicaState>();
  /** The frontier of the last take(): every key at or before it has been emitted. */
  #takenThrough: Reach;

  /**
   * @param replicas the replicas read, distinct
   * @param after the position listing resumes after, or null for the range's start
   */
  constructor(bucket: string, replicas: readonly NodeId[], after: ScanPosition | null) {
    assert(replicas.length >= 1, "a range is listed from at least one replica");
    this.#bucket = bucket;
    const reach: Reach = after === null ? { kind: "start" } : { kind: "at", position: after };
    for (const node of replicas) this.#replicas.set(node, { buffered: [], reach });
    this.#takenThrough = reach;
    assert(this.#replicas.size === replicas.length, "the replicas listed must be distinct");
  }

  /** The smallest reach of all replicas: everything at or before it is decided. */
  frontier(): Reach {
    let lowest: Reach = { kind: "done" };
    for (const state of this.#replicas.values())
      if (compareReach(state.reach, lowest) < 0) lowest = state.reach;
    return lowest;
  }

  /** Whether every replica is done and every key emitted. */
  done(): boolean {
    return this.frontier().kind === "done" && this.#bufferedCount() === 0;
  }

  /** The replicas to ask for their next page: those not done whose reach is the frontier. */
  wants(): NodeId[] {
    const frontier = this.frontier();
    if (frontier.kind === "done") return [];
    const wanted: NodeId[] = [];
    for (const [node, state] of this.#replicas)
      if (compareReach(state.reach, frontier) === 0) wanted.push(node);
    return wanted;
  }

  /** Where a replica must resume: after its reach (null: from the range's start). */
  resumeAfter(node: NodeId): ScanPosition | null {
    const reach = this.#state(node).reach;
    assert(reach.kind !== "done", "a replica that is done is not asked again");
    return reach.kind === "at" ? reach.position : null;
  }

  /** A replica's page: its keys after its reach, in token order. */
  receive(node: NodeId, page: Pick<BucketScanPage, "entries" | "reached">): void {
    const state = this.#state(node);
    let previous: Reach = state.reach;
    for (const entry of page.entries) {
      const position = { token: entry.token, storedKey: storedKeyOf(this.#bucket, entry.key) };
      const here: Reach = { kind: "at", position };
      // A page out of order would break the frontier's promise: refuse it as the peer's fault.
      if (compareReach(here, previous) <= 0)
        throw new Error(`${node} sent a list page out of token order`);
      state.buffered.push({ entry, position });
      previous = here;
    }
    const reach: Reach =
      page.reached === null ? { kind: "done" } : { kind: "at", position: page.reached };
    if (compareReach(reach, previous) < 0 || compareReach(reach, state.reach) <= 0)
      throw new Error(`${node} sent a list page that does not move forward`);
    state.reach = reach;
  }

  /**
   * Swaps a replica that failed for another: the newcomer starts where the last take() decided up
   * to, since every key before that is emitted already. The failed replica's buffered keys are
   * dropped; the newcomer's pages bring them again.
   */
  replace(failed: NodeId, substitute: NodeId): void {
    assert(!this.#replicas.has(substitute), "a substitute replica must not be read already");
    this.#state(failed);
    this.#replicas.delete(failed);
    this.#replicas.set(substitute, { buffered: [], reach: this.#takenThrough });
  }

  /** The live keys now decided (at or before the frontier), in token order, each once. */
  take(): MergedKey[] {
    const frontier = this.frontier();
    this.#takenThrough = frontier;
    const decided: PositionedEntry[] = [];
    for (const state of this.#replicas.values()) {
      let count = 0;
      for (const item of state.buffered) {
        if (compareReach({ kind: "at", position: item.position }, frontier) > 0) break;
        count += 1;
      }
      decided.push(...state.buffered.splice(0, count));
    }
    decided.sort((a, b) => comparePositions(a.position, b.position));
    const keys: MergedKey[] = [];
    for (let index = 0; index < decided.length;) {
      const first = decided[index] as PositionedEntry;
      let winner = first.entry;
      index += 1;
      while (index < decided.length) {
        const next = decided[index] as PositionedEntry;
        if (comparePositions(next.position, first.position) !== 0) break;
        winner = newer(winner, next.entry);
        index += 1;
      }
      if (!winner.tombstone) keys.push({ key: winner.key, position: first.position });
    }
    return keys;
  }

  #bufferedCount(): number {
    let count = 0;
    for (const state of this.#replicas.values()) count += state.buffered.length;
    return count;
  }

  #state(node: NodeId): ReplicaState {
    const state = this.#replicas.get(node);
    assert(state !== undefined, () => `${node} is not a replica of this listing`);
    return state;
  }
}
