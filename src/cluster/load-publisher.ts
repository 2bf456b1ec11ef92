// cluster/load-publisher.ts — when this member's load is worth gossiping. Load changes with every
// write; publishing each change would keep every summary hash moving and gossip busy for a figure
// that is only for reports. So it is published at most once an interval, and only when it moved by
// a meaningful fraction.

export interface Load {
  readonly keys: number;
  readonly bytes: number;
}

export interface LoadPublisherOptions {
  /** Load is published at most this often. */
  readonly intervalMs: number;
  /** ...and only when it moved by at least this fraction. */
  readonly changeRatioMin: number;
}

export class LoadPublisher {
  private pendingLoad: Load | null = null;
  private publishedLoad: Load | null = null;
  private lastLoadPublishMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: LoadPublisherOptions) {}

  /** The latest load measured (rounded to whole keys and bytes). */
  set(load: Load): void {
    this.pendingLoad = { keys: Math.round(load.keys), bytes: Math.round(load.bytes) };
  }

  /** The load to publish at nowMs, or null when it is not due or has not moved enough. */
  take(nowMs: number): Load | null {
    const load = this.pendingLoad;
    if (load === null) return null;
    if (nowMs - this.lastLoadPublishMs < this.options.intervalMs) return null;
    const before = this.publishedLoad;
    const moved =
      before === null ||
      relativeChange(before.keys, load.keys) >= this.options.changeRatioMin ||
      relativeChange(before.bytes, load.bytes) >= this.options.changeRatioMin;
    if (!moved) return null;
    this.publishedLoad = load;
    this.lastLoadPublishMs = nowMs;
    return load;
  }
}

function relativeChange(before: number, after: number): number {
  if (before === after) return 0;
  return Math.abs(after - before) / Math.max(1, Math.abs(before));
}
