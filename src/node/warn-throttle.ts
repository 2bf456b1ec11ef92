// node/warn-throttle.ts — at most a few warning lines per period (issue 18 §3: every refused
// credential is logged at warn with the caller's address, but a flood of bad requests must not
// flood the log). Within a period the first `linesMax` are logged; the rest are counted, and the
// first line of the next period says how many were left out. Pure: the time is an argument.

import { assert } from "../core/assert.js";

export interface ThrottleVerdict {
  /** Whether this event's line is written. */
  readonly log: boolean;
  /** Lines left out since the last one written (reported on this one). */
  readonly suppressed: number;
}

export class WarnThrottle {
  #periodStartMs = Number.NEGATIVE_INFINITY;
  #logged = 0;
  #suppressed = 0;

  constructor(
    private readonly linesMax: number,
    private readonly periodMs: number,
  ) {
    assert(linesMax >= 1 && periodMs > 0, "a warning throttle lets something through");
  }

  admit(nowMs: number): ThrottleVerdict {
    if (nowMs - this.#periodStartMs >= this.periodMs) {
      this.#periodStartMs = nowMs;
      this.#logged = 0;
    }
    if (this.#logged >= this.linesMax) {
      this.#suppressed += 1;
      return { log: false, suppressed: 0 };
    }
    this.#logged += 1;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return { log: true, suppressed };
  }
}
