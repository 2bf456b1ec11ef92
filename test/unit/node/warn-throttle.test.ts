import { describe, expect, it } from "vitest";
import { WarnThrottle } from "../../../src/node/warn-throttle.js";

describe("WarnThrottle", () => {
  it("lets a few lines through a period and reports the rest on the next period's first", () => {
    const throttle = new WarnThrottle(2, 1000);
    expect(throttle.admit(0)).toEqual({ log: true, suppressed: 0 });
    expect(throttle.admit(10)).toEqual({ log: true, suppressed: 0 });
    expect(throttle.admit(20).log).toBe(false);
    expect(throttle.admit(999).log).toBe(false);
    expect(throttle.admit(1000)).toEqual({ log: true, suppressed: 2 });
    expect(throttle.admit(1001)).toEqual({ log: true, suppressed: 0 });
  });
});
