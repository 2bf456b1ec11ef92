// sim/life-clock.ts — one process life's view of the simulated clock. A simulated node is real node
// code, which schedules its ticks, deadlines and retries on the Clock port; the simulator hands
// each life its own LifeClock over the shared VirtualClock, so that what happens to a process
// happens to its timers too:
//
// - kill (SIGKILL, power loss): every timer of the life is cancelled and later schedules are
//   ignored, so a dead node's code never runs again, whatever promises it left pending;
// - pause (SIGSTOP, a long GC): timers that come due are held, in due order, and run when the life
//   resumes, at the resume instant (a stopped process runs its overdue timers as soon as it runs);
//   `nowMs` keeps moving, as a monotonic clock does while a process is stopped.
//
// Its cost is one entry per live timer in a Map, so a kill can cancel them all.

import { assert } from "../core/assert.js";
import type { Cancel, Clock } from "../core/clock.js";

/** What a life clock needs of the shared clock. */
export type SharedClock = Clock;

export type LifeState = "running" | "paused" | "dead";

export class LifeClock implements Clock {
  #state: LifeState = "running";
  #nextId = 0;
  /** Timers scheduled on the shared clock and not yet run, by id. */
  readonly #timers = new Map<number, Cancel>();
  /** Tasks that came due while paused, in due order. */
  #held: (() => void)[] = [];

  constructor(private readonly shared: SharedClock) {}

  get state(): LifeState {
    return this.#state;
  }

  /** Timers waiting on the shared clock (held ones not included). */
  get timersPending(): number {
    return this.#timers.size;
  }

  nowMs(): number {
    return this.shared.nowMs();
  }

  schedule(delayMs: number, task: () => void): Cancel {
    if (this.#state === "dead") return () => undefined;
    const id = this.#nextId++;
    let cancelled = false;
    const cancelShared = this.shared.schedule(delayMs, () => {
      this.#timers.delete(id);
      if (this.#state === "dead" || cancelled) return;
      if (this.#state === "paused") {
        this.#held.push(() => {
          if (!cancelled) task();
        });
        return;
      }
      task();
    });
    this.#timers.set(id, cancelShared);
    return () => {
      cancelled = true;
      const cancel = this.#timers.get(id);
      if (cancel === undefined) return;
      this.#timers.delete(id);
      cancel();
    };
  }

  pause(): void {
    assert(this.#state === "running", () => `cannot pause a ${this.#state} life`);
    this.#state = "paused";
  }

  /** Runs the held tasks at once, in the order they came due, then lets timers run again. */
  resume(): void {
    assert(this.#state === "paused", () => `cannot resume a ${this.#state} life`);
    this.#state = "running";
    const held = this.#held;
    this.#held = [];
    for (let index = 0; index < held.length; index++) {
      // A held task may have changed the state (a task of the simulator's own, run on this clock).
      const state = this.#stateNow();
      if (state === "dead") return;
      if (state === "paused") {
        // Paused again by one of them: the rest wait for the next resume, still first in line.
        this.#held = [...held.slice(index), ...this.#held];
        return;
      }
      (held[index] as () => void)();
    }
  }

  #stateNow(): LifeState {
    return this.#state;
  }

  /** Ends the life: no timer of it runs again. Idempotent. */
  kill(): void {
    this.#state = "dead";
    this.#held = [];
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
  }
}
