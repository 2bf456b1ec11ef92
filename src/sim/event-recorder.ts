// sim/event-recorder.ts — what a simulated cluster remembers of its engines' events, for tests to
// read.
//
// Every event an engine emits is stamped with (virtual time, observer) and goes into a bounded log
// (a ring buffer that keeps the newest: a thousand nodes joining emit about a million events), into
// per-kind counts, into the index of when each observer first convicted each member (what detection
// tests measure), and to listeners. Nothing here feeds back into the run, so recording cannot
// change it.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEvent } from "../cluster/engine.js";

export interface RecordedEvent {
  readonly atMs: number;
  readonly observer: NodeId;
  readonly event: ClusterEvent;
}

export type EventListener = (recorded: RecordedEvent) => void;

export class EventRecorder {
  private readonly eventLogMax: number;
  private eventLog: RecordedEvent[] = [];
  private eventLogStart = 0; // ring buffer head once the log is full
  private eventsDroppedCount = 0;
  private readonly eventCounts = new Map<ClusterEvent["kind"], number>();
  private readonly firstDown = new Map<NodeId, Map<NodeId, number>>();
  private readonly listeners = new Set<EventListener>();

  /** Keeps the newest `eventLogMax` events in the log; older ones are dropped and counted. */
  constructor(eventLogMax: number) {
    assert(eventLogMax >= 0, "eventLogMax must be ≥ 0");
    this.eventLogMax = eventLogMax;
  }

  /** Records the events `observer` emitted at virtual time `atMs`, in order. */
  record(observer: NodeId, events: readonly ClusterEvent[], atMs: number): void {
    for (const event of events) {
      this.eventCounts.set(event.kind, (this.eventCounts.get(event.kind) ?? 0) + 1);
      if (event.kind === "member-down") {
        let byObserver = this.firstDown.get(event.id);
        if (byObserver === undefined) {
          byObserver = new Map();
          this.firstDown.set(event.id, byObserver);
        }
        if (!byObserver.has(observer)) byObserver.set(observer, atMs);
      }
      const recorded: RecordedEvent = { atMs, observer, event };
      this.appendToLog(recorded);
      for (const listener of this.listeners) listener(recorded);
    }
  }

  /** When each observer first emitted member-down for `subject` (virtual ms), by observer. */
  downTimes(subject: NodeId): ReadonlyMap<NodeId, number> {
    return this.firstDown.get(subject) ?? new Map();
  }

  /** Forgets the first-conviction times (all, or one subject's), to measure a later failure. */
  clearDownTimes(subject?: NodeId): void {
    if (subject === undefined) this.firstDown.clear();
    else this.firstDown.delete(subject);
  }

  /** Events of one kind recorded so far, from every observer. */
  count(kind: ClusterEvent["kind"]): number {
    return this.eventCounts.get(kind) ?? 0;
  }

  /** The newest events, oldest first (at most eventLogMax). */
  events(): RecordedEvent[] {
    return [
      ...this.eventLog.slice(this.eventLogStart),
      ...this.eventLog.slice(0, this.eventLogStart),
    ];
  }

  /** Events that fell out of the bounded log. */
  get dropped(): number {
    return this.eventsDroppedCount;
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private appendToLog(recorded: RecordedEvent): void {
    if (this.eventLogMax === 0) {
      this.eventsDroppedCount += 1;
      return;
    }
    if (this.eventLog.length < this.eventLogMax) {
      this.eventLog.push(recorded);
      return;
    }
    // Full: overwrite the oldest.
    this.eventLog[this.eventLogStart] = recorded;
    this.eventLogStart = (this.eventLogStart + 1) % this.eventLogMax;
    this.eventsDroppedCount += 1;
  }
}
