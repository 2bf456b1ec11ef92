// sim/virtual-clock.ts — simulated time: the Clock port (core/clock.ts) driven by an event queue.
//
// Theory of operation. Time does not pass on its own: it jumps to the due time of the next
// scheduled task when the driver calls step(), runUntil() or runFor() (discrete-event simulation,
// as in TigerBeetle's VOPR and FoundationDB's simulator). Tasks wait in a binary heap ordered by
// (due time, insertion sequence), so tasks due at the same instant run in the order they were
// scheduled and a run is a pure function of its seed. Time never goes backwards: a task scheduled
// with delay 0 runs after every task already due now, never before the current one.
//
// Cancelling marks the entry dead instead of searching the heap (lazy deletion); dead entries are
// skipped when they surface, and the heap is compacted when they outnumber the living, so
// cancelling many timers cannot grow memory without bound. Two limits make a runaway run fail
// loudly instead of hanging or exhausting memory: the number of entries in the queue
// (`eventsPendingMax`) and the number of tasks run at one instant (`eventsPerInstantMax`, which
// catches a task that keeps rescheduling itself with delay 0).

import { assert } from "../core/assert.js";
import type { Cancel, Clock } from "../core/clock.js";
import { PriorityQueue } from "./priority-queue.js";

export const VIRTUAL_CLOCK_DEFAULTS = {
  /** Queue entries (live and cancelled); a thousand nodes need well under a million. */
  eventsPendingMax: 10_000_000,
  /** Tasks run without time moving; more means a zero-delay loop. */
  eventsPerInstantMax: 10_000_000,
  /**
   * Cancelled entries are swept once there are at least this many and they outnumber the live ones.
   */
  cancelledSweepMin: 4_096,
} as const;

export interface VirtualClockOptions {
  /** The virtual time at creation, ms. A realistic epoch makes generations look like real ones. */
  readonly startMs?: number;
  readonly eventsPendingMax?: number;
  readonly eventsPerInstantMax?: number;
}

interface ScheduledTask {
  readonly dueMs: number;
  readonly sequence: number;
  task: (() => void) | null; // null once cancelled or run
}

function runsBefore(a: ScheduledTask, b: ScheduledTask): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.sequence < b.sequence);
}

export class VirtualClock implements Clock {
  private now: number;
  private sequence = 0;
  private cancelled = 0;
  private readonly queue: PriorityQueue<ScheduledTask>;
  private readonly eventsPerInstantMax: number;
  private instantMs = Number.NaN;
  private eventsThisInstant = 0;
  private eventsRunTotal = 0;

  constructor(options: VirtualClockOptions = {}) {
    const startMs = options.startMs ?? 0;
    assert(Number.isFinite(startMs) && startMs >= 0, "startMs must be a finite time ≥ 0");
    this.now = startMs;
    this.queue = new PriorityQueue({
      before: runsBefore,
      sizeMax: options.eventsPendingMax ?? VIRTUAL_CLOCK_DEFAULTS.eventsPendingMax,
    });
    this.eventsPerInstantMax =
      options.eventsPerInstantMax ?? VIRTUAL_CLOCK_DEFAULTS.eventsPerInstantMax;
  }

  nowMs(): number {
    return this.now;
  }

  schedule(delayMs: number, task: () => void): Cancel {
    assert(
      Number.isFinite(delayMs) && delayMs >= 0,
      () => `delay must be a finite time ≥ 0, got ${delayMs}`,
    );
    return this.scheduleAt(this.now + delayMs, task);
  }

  /** Runs `task` at virtual time `dueMs` (not before now). */
  scheduleAt(dueMs: number, task: () => void): Cancel {
    assert(
      Number.isFinite(dueMs) && dueMs >= this.now,
      () => `cannot schedule in the past: ${dueMs} < ${this.now}`,
    );
    const entry: ScheduledTask = { dueMs, sequence: this.sequence++, task };
    this.queue.push(entry);
    return () => {
      if (entry.task === null) return;
      entry.task = null;
      this.cancelled += 1;
      this.maybeSweep();
    };
  }

  /** Tasks scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.queue.size - this.cancelled;
  }

  /** Tasks run since creation; a cost measure for benches. */
  get eventsRun(): number {
    return this.eventsRunTotal;
  }

  /** When the next live task is due, or undefined when nothing is scheduled. */
  nextDueMs(): number | undefined {
    this.dropCancelledHead();
    return this.queue.peek()?.dueMs;
  }

  /** Runs the next task, moving time to its due time. False when nothing is scheduled. */
  step(): boolean {
    this.dropCancelledHead();
    const entry = this.queue.pop();
    if (entry === undefined) return false;
    this.runEntry(entry);
    return true;
  }

  /** Runs every task due at or before `untilMs` in order, then sets the time to `untilMs`. */
  runUntil(untilMs: number): void {
    assert(
      Number.isFinite(untilMs) && untilMs >= this.now,
      () => `cannot run back to ${untilMs}, now is ${this.now}`,
    );
    for (;;) {
      this.dropCancelledHead();
      const head = this.queue.peek();
      if (head === undefined || head.dueMs > untilMs) break;
      this.queue.pop();
      this.runEntry(head);
    }
    this.now = untilMs;
  }

  runFor(durationMs: number): void {
    assert(
      Number.isFinite(durationMs) && durationMs >= 0,
      () => `duration must be a finite time ≥ 0, got ${durationMs}`,
    );
    this.runUntil(this.now + durationMs);
  }

  private runEntry(entry: ScheduledTask): void {
    const task = entry.task;
    assert(task !== null, "a cancelled task reached the head of the queue");
    entry.task = null;
    if (entry.dueMs !== this.instantMs) {
      this.instantMs = entry.dueMs;
      this.eventsThisInstant = 0;
    }
    this.eventsThisInstant += 1;
    assert(
      this.eventsThisInstant <= this.eventsPerInstantMax,
      () =>
        `more than ${this.eventsPerInstantMax} tasks at virtual time ${entry.dueMs}: a zero-delay loop`,
    );
    this.now = entry.dueMs;
    this.eventsRunTotal += 1;
    task();
  }

  private dropCancelledHead(): void {
    for (;;) {
      const head = this.queue.peek();
      if (head === undefined || head.task !== null) return;
      this.queue.pop();
      this.cancelled -= 1;
    }
  }

  private maybeSweep(): void {
    if (
      this.cancelled < VIRTUAL_CLOCK_DEFAULTS.cancelledSweepMin ||
      this.cancelled * 2 < this.queue.size
    )
      return;
    this.queue.retain((entry) => entry.task !== null);
    this.cancelled = 0;
  }
}
