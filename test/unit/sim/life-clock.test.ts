import { describe, expect, it } from "vitest";
import { LifeClock } from "../../../src/sim/life-clock.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";

describe("LifeClock", () => {
  it("runs timers on the shared clock while running, and a cancelled one never", () => {
    const shared = new VirtualClock();
    const life = new LifeClock(shared);
    const ran: string[] = [];
    life.schedule(10, () => ran.push("a"));
    const cancel = life.schedule(20, () => ran.push("b"));
    life.schedule(30, () => ran.push(`c@${life.nowMs()}`));
    cancel();
    shared.runFor(100);
    expect(ran).toEqual(["a", "c@30"]);
    expect(life.timersPending).toBe(0);
  });

  it("silences every timer of a killed life, and ignores later schedules", () => {
    const shared = new VirtualClock();
    const life = new LifeClock(shared);
    const ran: number[] = [];
    for (let i = 1; i <= 5; i++) life.schedule(i * 10, () => ran.push(i));
    shared.runFor(25);
    life.kill();
    life.schedule(1, () => ran.push(99));
    shared.runFor(100);
    expect(ran).toEqual([1, 2]);
    expect(shared.pending).toBe(0);
  });

  it("holds timers that come due while paused and runs them in due order at resume", () => {
    const shared = new VirtualClock();
    const life = new LifeClock(shared);
    const ran: string[] = [];
    life.schedule(10, () => ran.push(`a@${life.nowMs()}`));
    life.schedule(20, () => ran.push(`b@${life.nowMs()}`));
    const cancelled = life.schedule(30, () => ran.push("c"));
    life.pause();
    shared.runFor(50);
    cancelled();
    expect(ran).toEqual([]);
    life.resume();
    expect(ran).toEqual(["a@50", "b@50"]);
    life.schedule(5, () => ran.push(`d@${life.nowMs()}`));
    shared.runFor(10);
    expect(ran.at(-1)).toBe("d@55");
  });

  it("drops held timers when a paused life is killed", () => {
    const shared = new VirtualClock();
    const life = new LifeClock(shared);
    const ran: number[] = [];
    life.schedule(10, () => ran.push(1));
    life.pause();
    shared.runFor(20);
    life.kill();
    expect(() => life.resume()).toThrow(/dead/);
    expect(ran).toEqual([]);
  });
});
