// sim/sim-loop.ts — drives real node code under the virtual clock. The membership simulator's code
// is synchronous, so VirtualClock.runUntil is enough for it; the data path is not: a replica's
// write resolves through promises and the store's setImmediate batching. So time moves one instant
// at a time, and after each instant the loop lets the event loop settle: it yields (setImmediate)
// until nothing is left to run but timers on the virtual clock. Node drains every promise
// continuation and nextTick between two immediates, so inside an immediate callback the microtask
// queue is empty; if no other immediate is queued either, every chain of promises and immediates
// the instant started has finished or waits on virtual time. An instant whose tasks were
// synchronous costs one yield; a deep chain (a hash tree built in slices) gets as many as it needs,
// up to SETTLE_YIELDS_MAX, past which the rest runs at the next instant — still the same on every
// run. Nothing here waits on real IO: the simulated disk and network complete through the virtual
// clock or promises, so the order of everything is a function of the seed, and a run replays
// exactly.
//
// A yield costs microseconds of wall time, so simulated delays are whole milliseconds: the many
// messages of a busy cluster then share instants, and the yields are paid per instant, not per
// message.

import type { VirtualClock } from "./virtual-clock.js";

/**
 * Yields after one instant at most: a bound on a chain of immediates that never ends (a bug), far
 * above the deepest real one (a repair's tree build yields once per slice of records).
 */
const SETTLE_YIELDS_MAX = 1_000;

const IMMEDIATE = "Immediate";

/** Immediates queued (and referenced) besides the one running now. */
function immediatesQueued(): number {
  let queued = 0;
  for (const resource of process.getActiveResourcesInfo()) if (resource === IMMEDIATE) queued += 1;
  return queued;
}

/**
 * Resolves after one turn of the event loop with whether work is left: an immediate callback
 * runs with the microtask queue drained, so what it sees queued is all there is.
 */
function yieldAndLook(): Promise<boolean> {
  return new Promise((resolve) => setImmediate(() => resolve(immediatesQueued() > 0)));
}

/** Yields until nothing but the virtual clock's timers is left to run (or the bound). */
async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_YIELDS_MAX; i++) if (!(await yieldAndLook())) return;
}

/**
 * Runs every task due up to `untilMs`, instant by instant, letting the code's continuations run
 * after each, then sets the time to `untilMs`. Stops early (time stays where it is) when `stop`
 * answers true after an instant.
 */
export async function runVirtual(
  clock: VirtualClock,
  untilMs: number,
  stop: () => boolean = () => false,
): Promise<void> {
  for (;;) {
    const next = clock.nextDueMs();
    if (next === undefined || next > untilMs) break;
    while (clock.nextDueMs() === next) clock.step();
    await settle();
    if (stop()) return;
  }
  clock.runUntil(Math.max(untilMs, clock.nowMs()));
}

/**
 * Resolves with `promise`'s value once it settles, running the clock meanwhile; rejects when it has
 * not settled by `deadlineMs` of virtual time.
 */
export async function awaitVirtual<T>(
  clock: VirtualClock,
  promise: Promise<T>,
  deadlineMs: number,
): Promise<T> {
  const progress = { settled: false };
  const watched = promise.finally(() => {
    progress.settled = true;
  });
  // The rejection is read below; this keeps an early one from counting as unhandled.
  watched.catch(() => undefined);
  await runVirtual(clock, deadlineMs, () => progress.settled);
  if (!progress.settled) throw new Error(`not settled by virtual time ${deadlineMs} ms`);
  return watched;
}
