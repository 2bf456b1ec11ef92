// node/system-clock.ts — the Clock port (core/clock.ts) on the real machine.
//
// nowMs() is performance.timeOrigin + performance.now(): milliseconds since the epoch at process
// start, advanced by the monotonic clock, so it never goes backwards when NTP steps the wall clock
// (a phi-accrual detector fed a backwards jump would see a negative inter-arrival time) and still
// reads like a timestamp in logs. schedule() is setTimeout; the node owns the only timers.

import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";

export function createSystemClock(): Clock {
  const originMs = performance.timeOrigin;
  return {
    nowMs: () => originMs + performance.now(),
    schedule(delayMs, task) {
      const timer = setTimeout(task, Math.max(0, delayMs));
      return () => clearTimeout(timer);
    },
  };
}
