// What the client may try again: reads after anything but a final answer; writes only when refused
// before they were applied. And the backoff: full jitter under a capped exponential.

import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import {
  backoffMs,
  mayHaveApplied,
  mayRetry,
  type AttemptEnd,
} from "../../../src/client/retry-policy.js";

const answer = (status: number): AttemptEnd => ({ kind: "answer", status });
const failure = (kind: "unreachable" | "no_answer" | "bad_answer", sent: boolean): AttemptEnd => ({
  kind: "failure",
  failure: { kind, sent, detail: "x" },
});

describe("retry policy", () => {
  it.each([
    ["503 unavailable", answer(503), true, true],
    ["408 request_timeout", answer(408), true, true],
    ["504 timeout", answer(504), true, false],
    ["500 internal", answer(500), true, false],
    ["connection refused", failure("unreachable", false), true, true],
    ["connection broken after sending", failure("no_answer", true), true, false],
    ["400 bad_consistency", answer(400), false, false],
    ["413 value_too_large", answer(413), false, false],
    ["an answer too large", failure("bad_answer", true), false, false],
  ])("%s: read retried %s, write retried %s", (_name, end, read, write) => {
    expect(mayRetry("read", end)).toBe(read);
    expect(mayRetry("write", end)).toBe(write);
  });

  it("calls a write applied-unknown only when it may have reached a node", () => {
    expect(mayHaveApplied(answer(503))).toBe(false);
    expect(mayHaveApplied(failure("unreachable", false))).toBe(false);
    expect(mayHaveApplied(answer(504))).toBe(true);
    expect(mayHaveApplied(failure("no_answer", true))).toBe(true);
  });

  it("draws backoff in [0, min(max, base·2^n)), different draws for different retries", () => {
    const random = createRandom(7);
    const settings = { baseDelayMs: 10, maxDelayMs: 100 };
    for (let retry = 1; retry <= 12; retry++) {
      for (let draw = 0; draw < 50; draw++) {
        const delay = backoffMs(settings, retry, random);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(100, 10 * 2 ** retry));
      }
    }
    const draws = new Set(Array.from({ length: 20 }, () => backoffMs(settings, 5, random)));
    expect(draws.size).toBeGreaterThan(5);
  });
});
