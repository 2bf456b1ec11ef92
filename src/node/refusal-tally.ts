// node/refusal-tally.ts — refused requests counted, for a periodic line at info rather than one
// line a request. A node under a flood of bad or unservable requests must not flood its log too,
// yet an operator wants to know that clients are being turned away, and with what status: 503s
// say replicas are missing, 401s a peer without the secret, 413s a client with oversized values.
//
// A refusal is an answer of 400 or more other than 404: a key that is not there is an answer, not
// a refusal. Pure: the caller notes statuses and asks, on its tick, whether a report is due.

import { assert } from "../core/assert.js";

/** The first status that is a refusal, and the one that is not although it is above it. */
const REFUSAL_STATUS_MIN = 400;
const NOT_FOUND_STATUS = 404;
/** Statuses from here on are the node failing a request, not the client asking wrongly. */
const SERVER_STATUS_MIN = 500;

export interface RefusalReport {
  /** Refused requests in the period. */
  readonly refused: number;
  /** The same by HTTP status, as `{"503": 12, "400": 1}`. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** The period's length, seconds. */
  readonly seconds: number;
  /** Some refusal was the node's failing (5xx): worth a warning rather than a note. */
  readonly serverSide: boolean;
}

export function isRefusal(status: number): boolean {
  return status >= REFUSAL_STATUS_MIN && status !== NOT_FOUND_STATUS;
}

export class RefusalTally {
  #counts = new Map<number, number>();
  #periodStartMs: number;

  constructor(
    /** At most one report per this many milliseconds. */
    private readonly periodMs: number,
    nowMs: number,
  ) {
    assert(periodMs > 0, "a refusal report period is positive");
    this.#periodStartMs = nowMs;
  }

  /** One answered request's status; counted when it is a refusal. */
  note(status: number): void {
    if (!isRefusal(status)) return;
    this.#counts.set(status, (this.#counts.get(status) ?? 0) + 1);
  }

  /**
   * Once a period has passed, the refusals counted in it (then counting starts again); null before,
   * or when nothing was refused, so a healthy node says nothing.
   */
  report(nowMs: number): RefusalReport | null {
    const elapsedMs = nowMs - this.#periodStartMs;
    if (elapsedMs < this.periodMs) return null;
    this.#periodStartMs = nowMs;
    if (this.#counts.size === 0) return null;
    const statuses = [...this.#counts.keys()].sort((a, b) => a - b);
    const byStatus: Record<string, number> = {};
    let refused = 0;
    for (const status of statuses) {
      const count = this.#counts.get(status) ?? 0;
      byStatus[String(status)] = count;
      refused += count;
    }
    this.#counts.clear();
    return {
      refused,
      byStatus,
      seconds: Math.round(elapsedMs / 1000),
      serverSide: statuses.some((status) => status >= SERVER_STATUS_MIN),
    };
  }
}
