// detector/monitors.ts — who watches whom.
//
// Theory of operation. Members are placed on a ring by a stable 32-bit hash of their id, and each
// member's monitors are its k distinct successors (its subjects are therefore its k predecessors).
// Rapid (Suresh et al., ATC 2018) derives each member's k observers from k hash rings of the member
// ids so that every node computes the same assignment with no coordination; we use one ring and its
// k successors, as Chord's successor lists do: simpler, and enough for k monitors per member.
// Properties we rely on:
// - Deterministic: every node with the same member set computes the same monitors, which the
//   verdict rule (verdict.ts) needs to know whose votes count.
// - Stable: adding or removing one member changes the monitor sets of at most k members, so monitor
//   assignments barely churn when someone dies or joins.
// - Balanced: every member monitors exactly min(k, n − 1) others, so heartbeat load is k per tick.
//
// The hash is FNV-1a over the id's UTF-8 bytes followed by MurmurHash3's 32-bit finaliser: FNV-1a
// alone maps ids that differ only in their last character ("node-1", "node-2") to evenly spaced
// points, which would make monitor sets follow naming order. Ties (two ids with one hash) are
// broken by the id itself, so the order is total.

import { assert } from "../core/assert.js";
import { fmix32 } from "../core/hash.js";
import type { NodeId } from "../core/ids.js";

const FNV_OFFSET_BASIS_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

/** A stable unsigned 32-bit position on the monitor ring for `id`. */
export function ringPositionOf(id: NodeId): number {
  let hash = FNV_OFFSET_BASIS_32;
  const mix = (byte: number): void => {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME_32);
  };
  for (const char of id) {
    // UTF-8 by hand: the same bytes on every platform, and no encoder object to share.
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x80) {
      mix(code);
    } else if (code < 0x800) {
      mix(0xc0 | (code >> 6));
      mix(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      mix(0xe0 | (code >> 12));
      mix(0x80 | ((code >> 6) & 0x3f));
      mix(0x80 | (code & 0x3f));
    } else {
      mix(0xf0 | (code >> 18));
      mix(0x80 | ((code >> 12) & 0x3f));
      mix(0x80 | ((code >> 6) & 0x3f));
      mix(0x80 | (code & 0x3f));
    }
  }
  return fmix32(hash);
}

export class MonitorRing {
  /** Member ids in ring order: by position, then by id. */
  private readonly order: readonly NodeId[];
  private readonly indexById: ReadonlyMap<NodeId, number>;

  /** Any order; duplicates are ignored. */
  constructor(ids: readonly NodeId[]) {
    const unique = [...new Set(ids)];
    const positioned = unique.map((id) => ({ id, position: ringPositionOf(id) }));
    positioned.sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.order = positioned.map((p) => p.id);
    this.indexById = new Map(this.order.map((id, index) => [id, index]));
  }

  /** Number of distinct members on the ring. */
  get size(): number {
    return this.order.length;
  }

  /** Members in ring order. */
  members(): NodeId[] {
    return [...this.order];
  }

  has(id: NodeId): boolean {
    return this.indexById.has(id);
  }

  /**
   * The k distinct successors of `id` (never `id`); all others when there are fewer; [] if unknown.
   */
  monitorsOf(id: NodeId, k: number): NodeId[] {
    return this.walk(id, k, 1);
  }

  /** Exactly the members m with `id` ∈ monitorsOf(m, k): its k predecessors, or all others. */
  subjectsOf(id: NodeId, k: number): NodeId[] {
    return this.walk(id, k, -1);
  }

  /**
   * The first k successors of `id` that `accept` takes, walking the whole ring at most once. The
   * cluster view uses it when every regular monitor of a member is down: the next ones clockwise
   * take over.
   */
  successorsOf(id: NodeId, k: number, accept: (member: NodeId) => boolean): NodeId[] {
    assert(Number.isSafeInteger(k) && k >= 0, () => `k must be a non-negative integer, got ${k}`);
    const start = this.indexById.get(id);
    if (start === undefined) return [];
    const n = this.order.length;
    const out: NodeId[] = [];
    for (let i = 1; i < n && out.length < k; i++) {
      const member = this.order[(start + i) % n];
      assert(member !== undefined, "ring index out of range");
      if (accept(member)) out.push(member);
    }
    return out;
  }

  private walk(id: NodeId, k: number, step: 1 | -1): NodeId[] {
    assert(Number.isSafeInteger(k) && k >= 0, () => `k must be a non-negative integer, got ${k}`);
    const start = this.indexById.get(id);
    if (start === undefined) return [];
    const n = this.order.length;
    const count = Math.min(k, n - 1);
    const out: NodeId[] = [];
    for (let i = 1; i <= count; i++) {
      const member = this.order[(((start + step * i) % n) + n) % n];
      assert(member !== undefined, "ring index out of range");
      out.push(member);
    }
    return out;
  }
}
