// antientropy/span-asks.ts — the leaf spans a repair session (repair-session.ts) lists on both
// sides, and how they are batched into entries requests within REPAIR_LIMITS.

import type { RangeBounds, RangeHashTree, TreeNode } from "./hash-tree.js";
import { REPAIR_LIMITS } from "./repair-transport.js";

/** One range of a chunk as the session works on it. */
export interface RangeState {
  readonly range: RangeBounds;
  /** Its index in the chunk's roots question. */
  readonly index: number;
  readonly tree: RangeHashTree;
  frontier: TreeNode[];
  /** Leaf spans to list, [first, end). */
  spans: { first: number; end: number }[];
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Adjacent or overlapping spans merged, in order. */
export function mergeSpans(
  spans: { first: number; end: number }[],
): { first: number; end: number }[] {
  const sorted = [...spans].sort((a, b) => a.first - b.first);
  const out: { first: number; end: number }[] = [];
  for (const span of sorted) {
    const last = out.at(-1);
    if (last !== undefined && span.first <= last.end) last.end = Math.max(last.end, span.end);
    else out.push({ ...span });
  }
  return out;
}

/**
 * A span of leaves (or one bucket of a crowded leaf) to list on both sides. `alone`: the ask failed
 * in a shared request (the reply's budget may have run out): it goes by itself next.
 */
export interface SpanAsk {
  readonly state: RangeState;
  readonly first: number;
  readonly end: number;
  readonly alone: boolean;
  readonly bits?: number;
  readonly bucket?: number;
}

/** A leaf holding too many records to list whole: compared by 2^bits buckets first. */
export interface CrowdedLeaf {
  readonly state: RangeState;
  readonly leaf: number;
  readonly bits: number;
}

/**
 * The asks from `next` on that go in one entries request: bounded by asks and by the records this
 * side expects (its own counts); an ask marked `alone` goes by itself.
 */
export function nextListBatch(asks: readonly SpanAsk[], next: number): SpanAsk[] {
  const batch: SpanAsk[] = [];
  let expected = 0;
  let at = next;
  while (at < asks.length && batch.length < REPAIR_LIMITS.asksPerRequestMax) {
    const ask = asks[at] as SpanAsk;
    const count = ask.state.tree.countInSpan(ask.first, ask.end);
    if (batch.length > 0 && (ask.alone || expected + count > REPAIR_LIMITS.entriesPerRequestTarget))
      break;
    batch.push(ask);
    at += 1;
    expected += count;
    if (ask.alone) break;
  }
  return batch;
}
