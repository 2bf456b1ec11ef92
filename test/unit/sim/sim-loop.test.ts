import { describe, expect, it } from "vitest";
import { awaitVirtual, runVirtual } from "../../../src/sim/sim-loop.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";

/** A virtual sleep: resolves when the clock reaches now + ms. */
function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

describe("runVirtual", () => {
  it("lets async code that chains timers, promises and immediates run in virtual time", async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    const worker = async (name: string, stepMs: number): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, stepMs);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(`${name}${i}@${clock.nowMs()}`);
      }
    };
    void worker("a", 10);
    void worker("b", 15);
    await runVirtual(clock, 100);
    expect(seen).toEqual(["a0@10", "b0@15", "a1@20", "b1@30", "a2@30", "b2@45"]);
    expect(clock.nowMs()).toBe(100);
  });

  it("finishes a deep chain of immediates at the instant that started it", async () => {
    const clock = new VirtualClock();
    const finished: number[] = [];
    clock.schedule(10, () => {
      void (async () => {
        for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
        finished.push(clock.nowMs());
      })();
    });
    clock.schedule(11, () => undefined);
    await runVirtual(clock, 11, () => finished.length > 0);
    expect(finished).toEqual([10]);
    expect(clock.nowMs()).toBe(10);
  });

  it("replays the same interleaving on every run", async () => {
    const run = async (): Promise<string> => {
      const clock = new VirtualClock();
      const order: number[] = [];
      for (let i = 0; i < 20; i++) {
        void (async () => {
          await sleep(clock, (i * 7) % 5);
          await Promise.resolve();
          order.push(i);
          await sleep(clock, 0);
          order.push(100 + i);
        })();
      }
      await runVirtual(clock, 50);
      return order.join(",");
    };
    expect(await run()).toBe(await run());
  });
});

describe("awaitVirtual", () => {
  it("returns once the promise settles, without running the clock to the deadline", async () => {
    const clock = new VirtualClock();
    clock.schedule(1_000, () => undefined);
    const value = await awaitVirtual(
      clock,
      sleep(clock, 20).then(() => 7),
      10_000,
    );
    expect(value).toBe(7);
    expect(clock.nowMs()).toBe(20);
  });

  it("rejects when the promise has not settled by the deadline", async () => {
    const clock = new VirtualClock();
    await expect(awaitVirtual(clock, sleep(clock, 500), 100)).rejects.toThrow(/not settled/);
  });
});
