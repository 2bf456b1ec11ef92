// The ring-convergence judge's pure part: views grouped, a disagreement named as a failed check.

import { describe, expect, it } from "vitest";
import type { CheckResult } from "../../../src/sim/history/checker.js";
import {
  ringVerdict,
  ringViewGroups,
  ringViewsViolation,
  withRingCheck,
  type RingView,
} from "../../../src/sim/ring-convergence.js";

const agreed: RingView = { members: ["n1:normal", "n2:normal", "n3:normal"], ring: "abc" };

describe("ring views after settle", () => {
  it("finds nothing when every view is the same", () => {
    const views = new Map([
      ["n1", agreed],
      ["n2", { ...agreed }],
      ["n3", agreed],
    ]);
    expect(ringViewsViolation(views)).toBeNull();
    expect(ringViewsViolation(new Map())).toBeNull();
  });

  it("names who sees what when a status differs, the largest group first", () => {
    const behind: RingView = { members: ["n1:normal", "n2:normal", "n3:leaving"], ring: "abc" };
    const views = new Map([
      ["n1", agreed],
      ["n2", behind],
      ["n3", agreed],
    ]);
    expect(ringViewGroups(views).map((group) => group.observers)).toEqual([["n1", "n3"], ["n2"]]);
    const violation = ringViewsViolation(views);
    expect(violation?.kind).toBe("ring-views-differ");
    expect(violation?.message).toContain("[n1 n3] see n1:normal n2:normal n3:normal");
    expect(violation?.message).toContain("[n2] see n1:normal n2:normal n3:leaving");
  });

  it("tells views apart by their tokens alone", () => {
    const views = new Map([
      ["n1", agreed],
      ["n2", { ...agreed, ring: "abd" }],
    ]);
    expect(ringViewsViolation(views)?.message).toContain("(ring abd)");
  });

  it("is not quiet while a decommissioned machine that every view has dropped has yet to exit (seed 1024439534)", () => {
    // n3 finished its decommission: no view lists it, but it lingers before its exit, still a
    // member.
    const gone: RingView = { members: ["n1:normal", "n2:normal", "n4:normal"], ring: "abd" };
    const views = new Map([
      ["n1", gone],
      ["n2", gone],
      ["n4", gone],
    ]);
    expect(ringVerdict(views, ["n1", "n2", "n3", "n4"], [])?.message).toContain("do not see n3");
    expect(ringVerdict(views, ["n1", "n2", "n4"], [])).toBeNull();
    expect(ringVerdict(views, ["n1", "n2", "n4"], ["n5:joining"])?.message).toContain("unfinished");
  });

  it("adds its violation to the history's verdict", () => {
    const passed: CheckResult = {
      ok: true,
      violations: [],
      summary: {
        operations: 1,
        writes: 1,
        deletes: 0,
        reads: 0,
        acked: 1,
        failed: 0,
        indeterminate: 0,
        quorumAckedWrites: 1,
        finalReads: 0,
        keysChecked: 0,
        violations: 0,
        lossesExcused: 0,
      },
    };
    expect(withRingCheck(passed, null)).toBe(passed);
    const violation = ringViewsViolation(
      new Map([
        ["n1", agreed],
        ["n2", { ...agreed, ring: "x" }],
      ]),
    );
    const failed = withRingCheck(passed, violation);
    expect(failed.ok).toBe(false);
    expect(failed.summary.violations).toBe(1);
    expect(failed.violations).toEqual([violation]);
  });
});
