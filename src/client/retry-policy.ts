// client/retry-policy.ts — what may be tried again, and after how long.
//
// A read changes nothing, so any failure that is not the answer itself (a 4xx) may be retried. A
// write may be sent again only when it certainly was not applied: the connection was refused or
// never established (the request never left), or the node answered 503 `unavailable` (SPEC §2:
// known before trying; the coordinator refuses with 503 only before it sends anything or when
// every replica refused the stamp) or 408 (the request did not arrive whole, so no route ran).
// Never after a 504, a 500, a broken connection or silence: the write may have landed on some
// replicas, and a second one would be a second version (a sibling, once siblings land). Backoff is
// exponential with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"), and never
// sleeps past the call's deadline.
//
// Pure: chance from the injected Random, time as arguments.

import type { Random } from "../core/random.js";
import type { TransportFailure } from "./transport.js";

export type OperationKind = "read" | "write";

/** How one attempt ended, as far as retrying goes. */
export type AttemptEnd =
  | { readonly kind: "answer"; readonly status: number }
  | { readonly kind: "failure"; readonly failure: TransportFailure };

/** Statuses that say the request was refused before anything was applied. */
const NOT_APPLIED_STATUSES: ReadonlySet<number> = new Set([408, 503]);

/** Whether the operation may have been applied when the attempt ended so. */
export function mayHaveApplied(end: AttemptEnd): boolean {
  if (end.kind === "failure") return end.failure.sent;
  return !NOT_APPLIED_STATUSES.has(end.status);
}

/** Whether the call may try again after this attempt. */
export function mayRetry(operation: OperationKind, end: AttemptEnd): boolean {
  if (end.kind === "answer" && end.status < 500 && !NOT_APPLIED_STATUSES.has(end.status))
    return false;
  if (end.kind === "failure" && end.failure.kind === "bad_answer") return false;
  return operation === "read" || !mayHaveApplied(end);
}

export interface BackoffSettings {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The sleep before retry `retry` (1 for the first retry): full jitter on a capped exponential. */
export function backoffMs(settings: BackoffSettings, retry: number, random: Random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.min(retry, 30));
  return Math.floor(random.next() * ceiling);
}
