// topology/stream.ts — range streaming: moves the records of token ranges from a node that holds
// them to a node that is becoming their replica, during a bootstrap, a decommission or a
// removenode.
//
// Theory of operation. A stream is one range (start, end], one target and an ordered list of
// sources (current replicas of the range). It pages through the range in storage order (token, then
// key: storage/layout.ts): fetch a page from the source, push it to the target (whose store merges
// it last write wins, so a streamed record never replaces a newer write), and move a cursor to the
// last record received. The cursor is a position between two storage keys, (token, key) exclusive,
// so every page starts strictly after the previous one: a page of one record (one value of
// --max-value-bytes fills a page alone) or of many keys sharing a token never repeats, and no key
// is skipped. A page that does not start after the cursor, or leaves the range, breaks that
// invariant: the stream fails at once (StreamCursorError, logged with `invariant: "stream-cursor"`,
// which fails a simulator run) rather than retry a page a bug would repeat each time. The cursor
// also makes a stream resumable: when the source fails mid-stream, the stream waits `retryDelayMs`
// and continues from the cursor with the next live source, so what was already streamed is not sent
// again. A stream fails for good after `attemptsMax` failed pages in a row, or when its cursor has
// not moved for `noProgressMsMax` (a stall: a stream is never retried silently forever); the ring
// change that started it then fails.
//
// Bounds (ARCHITECTURE §6.3): at most `concurrentStreamsMax` streams run at once on this node,
// queued in order; all of them together send at most `bytesPerSecondMax` (a token bucket, refilled
// by the clock: a page waits until its bytes are allowed); a page holds at most `pageRecordsMax`
// records and at most `pageBytesMax` bytes, itself at most about one second of the byte budget,
// except that its first record always goes (takePage), so a slow stream still moves its cursor
// every second or so, a failure costs at most that much work, and a record of the largest value
// still streams. Progress of every stream (keys, bytes, how far through the range, which source,
// attempts) is kept for /cluster/status and `grapevine status`; the last `finishedStreamsKept`
// finished streams stay visible.
//
// IO is behind StreamEndpoints (local store or a peer, chosen by the caller), and time behind the
// Clock port, so tests drive it with fakes.

import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import { TOKEN_SPACE, tokenToString } from "../ring/partitioner.js";
import { rangeWidth, type RangeBounds } from "../ring/token-map.js";
import {
  cursorAfter,
  PAGE_BYTES_MIN,
  pageRequestAt,
  pageViolation,
  streamedBytes,
  type PageRequest,
  type StreamCursor,
  type StreamedRecord,
  type StreamPage,
} from "./stream-pages.js";

export const STREAM_DEFAULTS = {
  /** Streams running at once on this node; more wait their turn. */
  concurrentStreamsMax: 2,
  /** Bytes per second over all streams of this node: leaves the disk and network to clients. */
  bytesPerSecondMax: 32 * 1024 * 1024,
  /** Records per page. */
  pageRecordsMax: 1_024,
  /**
   * Bytes of keys and records per page (the fetch protocol's largest byte bound); a larger record
   * goes alone.
   */
  pageBytesMax: 1024 * 1024,
  /** Failed pages in a row before a stream gives up. */
  attemptsMax: 20,
  /** Wait before retrying a failed page (another source when the source failed). */
  retryDelayMs: 1_000,
  /** Finished streams kept for the progress view. */
  finishedStreamsKept: 256,
  /**
   * A stream whose cursor has not moved for this long fails (a stall), whatever it was doing:
   * four page timeouts (net/stream-client.ts, 30 s), far above one page at any allowed rate.
   */
  noProgressMsMax: 120_000,
} as const;

export type StreamOptions = { -readonly [K in keyof typeof STREAM_DEFAULTS]: number };

export interface StreamEndpoints {
  /**
   * A page of what is left of a range from `source` (PageRequest), in storage order; done when
   * nothing follows.
   */
  fetch(source: NodeId, request: PageRequest): Promise<StreamPage>;
  /** Applies records to `target`'s store (last write wins). */
  push(target: NodeId, records: readonly StreamedRecord[]): Promise<void>;
  /** Whether a source is worth trying now. */
  isLive(node: NodeId): boolean;
}

export interface StreamTask {
  readonly range: RangeBounds;
  readonly target: NodeId;
  /** Current replicas holding the range, in order of preference. */
  readonly sources: readonly NodeId[];
}

export type StreamState = "queued" | "streaming" | "retrying" | "done" | "failed";

/** One stream as shown in /cluster/status `streams`. */
export interface StreamProgress {
  readonly id: number;
  /** The ring change it belongs to: "bootstrap node4", "decommission node2", "removenode node3". */
  readonly change: string;
  readonly start: string;
  readonly end: string;
  readonly source: NodeId | null;
  readonly target: NodeId;
  readonly state: StreamState;
  readonly keys: number;
  readonly bytes: number;
  /** How far through the range the cursor is, 0..1. */
  readonly progress: number;
  readonly attempts: number;
  /** Times the stream moved to another source after one failed. */
  readonly sourceChanges: number;
  readonly error: string | null;
}

export class StreamFailedError extends Error {
  override readonly name: string = "StreamFailedError";
}

/** A page that did not advance the cursor (a repeat, a step back, a record outside the range). */
export class StreamCursorError extends StreamFailedError {
  override readonly name = "StreamCursorError";
}

/** A stream whose cursor did not move for noProgressMsMax. */
export class StreamStalledError extends StreamFailedError {
  override readonly name = "StreamStalledError";
}

interface StreamRecord {
  id: number;
  change: string;
  task: StreamTask;
  state: StreamState;
  cursor: StreamCursor;
  /** When the cursor last moved (or the stream started): the stall clock. */
  progressAtMs: number;
  sourceIndex: number;
  source: NodeId | null;
  keys: number;
  bytes: number;
  attempts: number;
  sourceChanges: number;
  error: string | null;
}

/** Where a failed stream is reported (the node's logger). */
export interface StreamLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface StreamManagerDeps {
  readonly endpoints: StreamEndpoints;
  readonly clock: Clock;
  readonly onPage?: (records: number, bytes: number) => void;
  readonly log?: StreamLog;
}

export class StreamManager {
  readonly options: StreamOptions;
  readonly #deps: StreamManagerDeps;
  #nextId = 1;
  readonly #active: StreamRecord[] = [];
  readonly #finished: StreamRecord[] = [];
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  /** Token bucket: the time (ms) from which the next byte may be sent. */
  #sendFreeAtMs = 0;
  #totals = {
    streamsDone: 0,
    streamsFailed: 0,
    streamsStalled: 0,
    keys: 0,
    bytes: 0,
    sourceChanges: 0,
  };

  constructor(options: Partial<StreamOptions>, deps: StreamManagerDeps) {
    this.options = { ...STREAM_DEFAULTS, ...options };
    this.#deps = deps;
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value <= 0)
        throw new RangeError(`stream option ${name} must be positive, got ${value}`);
    }
  }

  /**
   * Runs every task (bounded by the concurrency limit); resolves when all are done, rejects if one
   * fails for good.
   */
  async run(
    change: string,
    tasks: readonly StreamTask[],
  ): Promise<{ keys: number; bytes: number }> {
    const records = tasks.map((task): StreamRecord => ({
      id: this.#nextId++,
      change,
      task,
      state: "queued",
      cursor: { token: task.range.start, key: null },
      progressAtMs: 0,
      sourceIndex: 0,
      source: null,
      keys: 0,
      bytes: 0,
      attempts: 0,
      sourceChanges: 0,
      error: null,
    }));
    this.#active.push(...records);
    const outcomes = await Promise.allSettled(records.map((record) => this.#runOne(record)));
    let keys = 0;
    let bytes = 0;
    for (const record of records) {
      keys += record.keys;
      bytes += record.bytes;
    }
    const failed = outcomes.find(
      (outcome): outcome is PromiseRejectedResult => outcome.status === "rejected",
    );
    if (failed !== undefined)
      throw failed.reason instanceof Error
        ? failed.reason
        : new StreamFailedError(String(failed.reason));
    return { keys, bytes };
  }

  progress(): StreamProgress[] {
    return [...this.#finished, ...this.#active].map((record) => ({
      id: record.id,
      change: record.change,
      start: tokenToString(record.task.range.start),
      end: tokenToString(record.task.range.end),
      source: record.source,
      target: record.task.target,
      state: record.state,
      keys: record.keys,
      bytes: record.bytes,
      progress:
        record.state === "done"
          ? 1
          : Number(
              (((record.cursor.token - record.task.range.start + TOKEN_SPACE) % TOKEN_SPACE) *
                10_000n) /
                rangeWidth(record.task.range),
            ) / 10_000,
      attempts: record.attempts,
      sourceChanges: record.sourceChanges,
      error: record.error,
    }));
  }

  totals(): Readonly<{
    streamsDone: number;
    streamsFailed: number;
    streamsStalled: number;
    keys: number;
    bytes: number;
    sourceChanges: number;
  }> {
    return this.#totals;
  }

  async #runOne(record: StreamRecord): Promise<void> {
    await this.#acquire();
    try {
      record.state = "streaming";
      record.progressAtMs = this.#deps.clock.nowMs();
      await this.#stream(record);
      record.state = "done";
      this.#totals.streamsDone++;
    } catch (error) {
      record.state = "failed";
      record.error = error instanceof Error ? error.message : String(error);
      this.#totals.streamsFailed++;
      if (error instanceof StreamStalledError) this.#totals.streamsStalled++;
      this.#deps.log?.error(
        {
          stream: record.id,
          change: record.change,
          start: tokenToString(record.task.range.start),
          end: tokenToString(record.task.range.end),
          target: record.task.target,
          source: record.source,
          keys: record.keys,
          stalled: error instanceof StreamStalledError,
          ...(error instanceof StreamCursorError ? { invariant: "stream-cursor" } : {}),
        },
        `range stream failed: ${record.error}`,
      );
      throw error;
    } finally {
      this.#release();
      this.#retire(record);
    }
  }

  async #stream(record: StreamRecord): Promise<void> {
    const { task } = record;
    const { endpoints } = this.#deps;
    let failuresInARow = 0;
    for (;;) {
      this.#checkProgress(record);
      const source = this.#chooseSource(record);
      if (source === null) {
        failuresInARow++;
        record.attempts++;
        record.error = `no live source for the range among ${task.sources.join(", ")}`;
        if (failuresInARow >= this.options.attemptsMax) throw new StreamFailedError(record.error);
        record.state = "retrying";
        await this.#sleep(this.options.retryDelayMs);
        continue;
      }
      record.source = source;
      let page: StreamPage;
      try {
        page = await endpoints.fetch(
          source,
          pageRequestAt(task.range, record.cursor, this.#pageLimits()),
        );
      } catch (error) {
        // The source failed mid-stream: resume from the cursor with the next source.
        failuresInARow++;
        record.attempts++;
        record.error = `fetch from ${source} failed: ${error instanceof Error ? error.message : String(error)}`;
        if (failuresInARow >= this.options.attemptsMax) throw new StreamFailedError(record.error);
        this.#nextSource(record);
        record.state = "retrying";
        await this.#sleep(this.options.retryDelayMs);
        continue;
      }
      const violation = pageViolation(task.range, record.cursor, page.records);
      if (violation !== null)
        throw new StreamCursorError(
          `a page from ${source} does not advance the cursor at token ${tokenToString(record.cursor.token)}: ${violation}`,
        );
      if (page.records.length > 0) {
        let bytes = 0;
        for (const streamed of page.records) bytes += streamedBytes(streamed.key, streamed.record);
        await this.#throttle(bytes);
        try {
          await endpoints.push(task.target, page.records);
        } catch (error) {
          failuresInARow++;
          record.attempts++;
          record.error = `push to ${task.target} failed: ${error instanceof Error ? error.message : String(error)}`;
          if (failuresInARow >= this.options.attemptsMax) throw new StreamFailedError(record.error);
          record.state = "retrying";
          await this.#sleep(this.options.retryDelayMs);
          continue;
        }
        record.keys += page.records.length;
        record.bytes += bytes;
        this.#totals.keys += page.records.length;
        this.#totals.bytes += bytes;
        this.#deps.onPage?.(page.records.length, bytes);
        // Just after the last record: pageViolation checked that it lies after the old cursor.
        record.cursor = cursorAfter(page.records);
        record.progressAtMs = this.#deps.clock.nowMs();
      }
      failuresInARow = 0;
      record.state = "streaming";
      record.error = null;
      if (page.done) return;
    }
  }

  /**
   * Page bounds: pageRecordsMax records, and pageBytesMax bytes or about one second of the byte
   * budget if that is less.
   */
  #pageLimits(): { recordsMax: number; bytesMax: number } {
    const bytesMax = Math.max(
      PAGE_BYTES_MIN,
      Math.min(this.options.pageBytesMax, Math.floor(this.options.bytesPerSecondMax)),
    );
    return { recordsMax: this.options.pageRecordsMax, bytesMax };
  }

  /** Fails the stream when its cursor has not moved for noProgressMsMax. */
  #checkProgress(record: StreamRecord): void {
    const stalledMs = this.#deps.clock.nowMs() - record.progressAtMs;
    if (stalledMs < this.options.noProgressMsMax) return;
    const last = record.error === null ? "" : ` (last error: ${record.error})`;
    throw new StreamStalledError(
      `stalled: no progress for ${Math.round(stalledMs / 1000)} s (limit ${this.options.noProgressMsMax / 1000} s) at token ${tokenToString(record.cursor.token)}${last}`,
    );
  }

  /** The current source if it is live, else the next live one in order; null when none is. */
  #chooseSource(record: StreamRecord): NodeId | null {
    const sources = record.task.sources;
    for (let step = 0; step < sources.length; step++) {
      const index = (record.sourceIndex + step) % sources.length;
      const candidate = sources[index] as NodeId;
      if (this.#deps.endpoints.isLive(candidate)) {
        if (step > 0) {
          record.sourceIndex = index;
          record.sourceChanges++;
          this.#totals.sourceChanges++;
        }
        return candidate;
      }
    }
    return null;
  }

  #nextSource(record: StreamRecord): void {
    if (record.task.sources.length < 2) return;
    record.sourceIndex = (record.sourceIndex + 1) % record.task.sources.length;
    record.sourceChanges++;
    this.#totals.sourceChanges++;
  }

  /** Token bucket over all streams: waits until `bytes` may be sent at bytesPerSecondMax. */
  async #throttle(bytes: number): Promise<void> {
    const now = this.#deps.clock.nowMs();
    const startAt = Math.max(now, this.#sendFreeAtMs);
    this.#sendFreeAtMs = startAt + (bytes * 1000) / this.options.bytesPerSecondMax;
    if (startAt > now) await this.#sleep(startAt - now);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#deps.clock.schedule(ms, resolve);
    });
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.options.concurrentStreamsMax) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#running--;
  }

  #retire(record: StreamRecord): void {
    const index = this.#active.indexOf(record);
    if (index >= 0) this.#active.splice(index, 1);
    this.#finished.push(record);
    if (this.#finished.length > this.options.finishedStreamsKept)
      this.#finished.splice(0, this.#finished.length - this.options.finishedStreamsKept);
  }
}
