// sim/sim-loop.ts — drives real node code under the virtual clock. The membership simulator's code is
// synchronous, so VirtualClock.runUntil is enough for it; the data path is not: a replica's write
// resolves through promises and the store's setImmediate batching. So time moves one instant at a
// time, and after each instant the loop yields to the event loop SETTLE_YIELDS times. Each yield
// runs every promise continuation and every setImmediate queued before it (Node runs immediates in
// the order they were queued and drains promises between them), so work that chains up to
// SETTLE_YIELDS - 1 immediates finishes at its own instant; deeper chains finish at a later one,
// which is still the same one on every run. Nothing here waits on real IO: the simulated disk and
// network complete through the virtual clock or promises, so the order of everything is a function
// of the seed, and a run replays exactly.
//
// A yield costs microseconds of wall time, so simulated delays are whole milliseconds: the many
// messages of a busy cluster then share instants, and the yields are paid per instant, not per
// message.

import type { VirtualClock } from "./virtual-clock.js";

/** Yields after each instant: the store's write batching is one immediate deep, plus margin. */
const SETTLE_YIELDS = 3;

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
    for (let i = 0; i < SETTLE_YIELDS; i++) await yieldToEventLoop();
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
