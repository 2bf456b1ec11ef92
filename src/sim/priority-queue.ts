// sim/priority-queue.ts — a bounded binary min-heap, the simulator's event queue.
//
// Theory of operation. An array-backed binary heap (Williams, 1964) ordered by a caller's `before`
// relation: push and pop are O(log n), peek is O(1). The heap itself imposes no tie order, so
// callers that need determinism order by a total key (the virtual clock uses due time, then
// insertion sequence). The size is capped by `sizeMax`: a push past it is an assertion failure,
// because in the simulator an unbounded queue means a runaway run (a message storm, a timer that
// reschedules itself at zero delay) and it must fail loudly rather than exhaust memory.

import { assert } from "../core/assert.js";

export interface PriorityQueueOptions<T> {
  /**
   * True when `a` must come out before `b`; must be a strict total order for deterministic runs.
   */
  readonly before: (a: T, b: T) => boolean;
  /** Entries the queue may hold; pushing past it is a bug (assertion). */
  readonly sizeMax: number;
}

export class PriorityQueue<T> {
  private readonly heap: T[] = [];
  private readonly before: (a: T, b: T) => boolean;
  readonly sizeMax: number;

  constructor(options: PriorityQueueOptions<T>) {
    assert(
      Number.isSafeInteger(options.sizeMax) && options.sizeMax > 0,
      "sizeMax must be a positive integer",
    );
    this.before = options.before;
    this.sizeMax = options.sizeMax;
  }

  get size(): number {
    return this.heap.length;
  }

  push(item: T): void {
    assert(
      this.heap.length < this.sizeMax,
      () => `priority queue is full (${this.sizeMax} entries): a runaway run`,
    );
    const heap = this.heap;
    heap.push(item);
    // Sift up: move the hole toward the root while the parent must come after the new item.
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as T;
      if (!this.before(item, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = item;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  pop(): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0] as T;
    const last = heap.pop() as T;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDownFrom(0);
    }
    return top;
  }

  /** Keeps only the items `keep` accepts, then restores the heap order (Floyd's O(n) heapify). */
  retain(keep: (item: T) => boolean): void {
    const kept = this.heap.filter(keep);
    this.heap.length = 0;
    for (const item of kept) this.heap.push(item);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDownFrom(i);
  }

  /** Sift down: the item at `start` sinks below any child that must come out first. */
  private siftDownFrom(start: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[start] as T;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.before(heap[right] as T, heap[left] as T)) child = right;
      const childItem = heap[child] as T;
      if (!this.before(childItem, item)) break;
      heap[index] = childItem;
      index = child;
    }
    heap[index] = item;
  }
}
