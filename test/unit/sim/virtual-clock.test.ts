import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { InvariantError } from "../../../src/core/assert.js";
import { PriorityQueue } from "../../../src/sim/priority-queue.js";
import { VIRTUAL_CLOCK_DEFAULTS, VirtualClock } from "../../../src/sim/virtual-clock.js";

// Fixed so a property failure reproduces; fast-check prints the seed and path of any
// counterexample.
const PROPERTY_SEED = 20_240_601;

describe("PriorityQueue", () => {
  it("pops numbers in ascending order whatever the push order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1_000, max: 1_000 }), { maxLength: 300 }),
        (values) => {
          const queue = new PriorityQueue<number>({ before: (a, b) => a < b, sizeMax: 1_000 });
          for (const value of values) queue.push(value);
          const popped: number[] = [];
          for (let v = queue.pop(); v !== undefined; v = queue.pop()) popped.push(v);
          expect(popped).toEqual([...values].sort((a, b) => a - b));
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });

  it("keeps heap order after retain drops entries", () => {
    const queue = new PriorityQueue<number>({ before: (a, b) => a < b, sizeMax: 100 });
    for (const value of [9, 3, 7, 1, 8, 2, 6, 4, 5]) queue.push(value);
    queue.retain((value) => value % 2 === 1);
    const popped: number[] = [];
    for (let v = queue.pop(); v !== undefined; v = queue.pop()) popped.push(v);
    expect(popped).toEqual([1, 3, 5, 7, 9]);
  });

  it("fails loudly when pushed past its size limit", () => {
    const queue = new PriorityQueue<number>({ before: (a, b) => a < b, sizeMax: 2 });
    queue.push(1);
    queue.push(2);
    expect(() => queue.push(3)).toThrow(InvariantError);
  });
});

describe("VirtualClock", () => {
  it("runs tasks in due-time order, not in the order they were scheduled", () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(30, () => ran.push("c"));
    clock.schedule(10, () => ran.push("a"));
    clock.schedule(20, () => ran.push("b"));
    clock.runFor(100);
    expect(ran).toEqual(["a", "b", "c"]);
  });

  it("runs tasks due at the same instant in the order they were scheduled", () => {
    const clock = new VirtualClock();
    const ran: number[] = [];
    for (let i = 0; i < 50; i++) clock.schedule(5, () => ran.push(i));
    clock.runFor(5);
    expect(ran).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("shows each task its own due time as the current time", () => {
    const clock = new VirtualClock({ startMs: 1_000 });
    const seen: number[] = [];
    clock.schedule(7, () => seen.push(clock.nowMs()));
    clock.schedule(2.5, () => seen.push(clock.nowMs()));
    clock.runFor(10);
    expect(seen).toEqual([1_002.5, 1_007]);
    expect(clock.nowMs()).toBe(1_010);
  });

  it("runs a zero-delay task scheduled by a task after the tasks already due at that instant", () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(1, () => {
      ran.push("first");
      clock.schedule(0, () => ran.push("spawned"));
    });
    clock.schedule(1, () => ran.push("second"));
    clock.runFor(1);
    expect(ran).toEqual(["first", "second", "spawned"]);
  });

  it("runs within the same call the tasks that tasks schedule inside the window, and none beyond it", () => {
    const clock = new VirtualClock();
    const ran: number[] = [];
    const every10 = (): void => {
      ran.push(clock.nowMs());
      clock.schedule(10, every10);
    };
    clock.schedule(10, every10);
    clock.runUntil(45);
    expect(ran).toEqual([10, 20, 30, 40]);
    expect(clock.nowMs()).toBe(45);
    expect(clock.pending).toBe(1);
    expect(clock.nextDueMs()).toBe(50);
  });

  it("never runs a cancelled task, and cancelling twice or after the run is harmless", () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    const cancelA = clock.schedule(10, () => ran.push("a"));
    const cancelB = clock.schedule(20, () => ran.push("b"));
    clock.schedule(30, () => ran.push("c"));
    expect(clock.pending).toBe(3);
    cancelB();
    cancelB();
    expect(clock.pending).toBe(2);
    clock.runFor(15);
    cancelA();
    clock.runFor(100);
    expect(ran).toEqual(["a", "c"]);
    expect(clock.pending).toBe(0);
  });

  it("keeps the pending count right and the queue small when most timers are cancelled", () => {
    const clock = new VirtualClock();
    const count = VIRTUAL_CLOCK_DEFAULTS.cancelledSweepMin * 3;
    const cancels = Array.from({ length: count }, (_, i) => clock.schedule(i + 1, () => undefined));
    let ran = 0;
    clock.schedule(count + 1, () => (ran += 1));
    for (const cancel of cancels) cancel();
    expect(clock.pending).toBe(1);
    clock.runFor(count + 1);
    expect(ran).toBe(1);
    expect(clock.pending).toBe(0);
    expect(clock.eventsRun).toBe(1);
  });

  it("step() runs exactly the next task and moves time to its due time", () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(5, () => ran.push("a"));
    clock.schedule(9, () => ran.push("b"));
    expect(clock.step()).toBe(true);
    expect(ran).toEqual(["a"]);
    expect(clock.nowMs()).toBe(5);
    expect(clock.step()).toBe(true);
    expect(clock.nowMs()).toBe(9);
    expect(clock.step()).toBe(false);
    expect(clock.nowMs()).toBe(9);
  });

  it("matches a stable sort by due time for any mix of delays and cancellations", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ delayMs: fc.integer({ min: 0, max: 50 }), cancelled: fc.boolean() }), {
          maxLength: 200,
        }),
        (plans) => {
          const clock = new VirtualClock();
          const ran: number[] = [];
          plans.forEach((plan, index) => {
            const cancel = clock.schedule(plan.delayMs, () => ran.push(index));
            if (plan.cancelled) cancel();
          });
          clock.runFor(50);
          const expected = plans
            .map((plan, index) => ({ ...plan, index }))
            .filter((plan) => !plan.cancelled)
            .sort((a, b) => a.delayMs - b.delayMs || a.index - b.index)
            .map((plan) => plan.index);
          expect(ran).toEqual(expected);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });

  it("refuses to schedule in the past or to run backwards", () => {
    const clock = new VirtualClock({ startMs: 100 });
    expect(() => clock.schedule(-1, () => undefined)).toThrow(InvariantError);
    expect(() => clock.scheduleAt(99, () => undefined)).toThrow(InvariantError);
    expect(() => clock.schedule(Number.NaN, () => undefined)).toThrow(InvariantError);
    expect(() => clock.runUntil(50)).toThrow(InvariantError);
  });

  it("fails loudly when the queue grows past its limit", () => {
    const clock = new VirtualClock({ eventsPendingMax: 10 });
    for (let i = 0; i < 10; i++) clock.schedule(i, () => undefined);
    expect(() => clock.schedule(1, () => undefined)).toThrow(/runaway/);
  });

  it("fails loudly on a task that keeps rescheduling itself without time passing", () => {
    const clock = new VirtualClock({ eventsPerInstantMax: 1_000 });
    const loop = (): void => {
      clock.schedule(0, loop);
    };
    clock.schedule(1, loop);
    expect(() => clock.runFor(10)).toThrow(/zero-delay loop/);
  });
});
