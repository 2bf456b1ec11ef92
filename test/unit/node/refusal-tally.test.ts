// Refused requests are counted and reported once a period, not one log line a request.

import { describe, expect, it } from "vitest";
import { isRefusal, RefusalTally } from "../../../src/node/refusal-tally.js";

const PERIOD_MS = 60_000;

describe("RefusalTally", () => {
  it("counts 4xx and 5xx answers but 404, which answers a missing key", () => {
    expect([200, 204, 304, 404].map(isRefusal)).toEqual([false, false, false, false]);
    expect([400, 401, 413, 503, 504].map(isRefusal)).toEqual([true, true, true, true, true]);
  });

  it("reports nothing before the period has passed, then the counts by status", () => {
    const tally = new RefusalTally(PERIOD_MS, 1_000);
    for (let i = 0; i < 12; i++) tally.note(503);
    tally.note(400);
    tally.note(404);
    tally.note(200);
    expect(tally.report(1_000 + PERIOD_MS - 1)).toBeNull();
    expect(tally.report(1_000 + PERIOD_MS)).toEqual({
      refused: 13,
      byStatus: { "400": 1, "503": 12 },
      seconds: 60,
      serverSide: true,
    });
  });

  it("starts counting again after a report, and says nothing for a period without refusals", () => {
    const tally = new RefusalTally(PERIOD_MS, 0);
    tally.note(413);
    expect(tally.report(PERIOD_MS)?.byStatus).toEqual({ "413": 1 });
    expect(tally.report(2 * PERIOD_MS)).toBeNull();
    tally.note(401);
    const report = tally.report(3 * PERIOD_MS + 5_000);
    expect(report).toEqual({ refused: 1, byStatus: { "401": 1 }, seconds: 65, serverSide: false });
  });

  it("leaves a refusal noted before the period ends to the period's report", () => {
    const tally = new RefusalTally(PERIOD_MS, 0);
    expect(tally.report(PERIOD_MS)).toBeNull();
    tally.note(504);
    expect(tally.report(PERIOD_MS + 1)).toBeNull();
    expect(tally.report(2 * PERIOD_MS)?.refused).toBe(1);
  });
});
