// client/system-clock.ts — the Clock port (core/clock.ts) on the process's monotonic clock, for the
// client library's backoff, deadlines and ring refreshes. Its timers are unref'd: a client an
// application forgot to close never keeps the process alive.

import { performance } from "node:perf_hooks";
import type { Clock } from "../core/clock.js";

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
