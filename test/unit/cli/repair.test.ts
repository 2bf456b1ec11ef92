import { describe, expect, it } from "vitest";
import { parseRepairJob, renderRepairSummary } from "../../../src/cli/repair.js";

const job = {
  id: "ab12",
  state: "done",
  dryRun: false,
  progress: { peers: 2, peersDone: 2, ranges: 96, rangesCompared: 96 },
  summary: {
    rangesCompared: 96,
    rangesDiffering: 48,
    keysSent: 0,
    keysReceived: 10_200,
    bytesSent: 166_550,
    bytesReceived: 1_226_962,
    roundTrips: 15,
    leavesSkipped: 0,
    seconds: 2.57,
  },
  failures: [],
};

describe("grapevine repair output", () => {
  it("accepts a job body and refuses anything else", () => {
    expect(parseRepairJob(job)).not.toBeNull();
    expect(parseRepairJob({ ...job, state: "maybe" })).toBeNull();
    expect(parseRepairJob({ ...job, summary: { ...job.summary, keysSent: "3" } })).toBeNull();
    expect(parseRepairJob(null)).toBeNull();
  });

  it("summarizes ranges compared and differing, keys sent and received, bytes and seconds", () => {
    const text = renderRepairSummary(parseRepairJob(job)!);
    expect(text).toContain("ranges compared   96 (with 2 replicas)");
    expect(text).toContain("ranges differing  48");
    expect(text).toMatch(/keys sent\s+0/);
    expect(text).toMatch(/keys received\s+10200/);
    expect(text).toContain("1.17 MiB received");
    expect(text).toContain("seconds           2.57");
  });

  it("says what a dry run would move, and names failed replicas", () => {
    const text = renderRepairSummary(
      parseRepairJob({
        ...job,
        dryRun: true,
        state: "failed",
        failures: [{ peer: "node2", message: "unreachable" }],
      })!,
    );
    expect(text).toContain("(dry run): failed");
    expect(text).toMatch(/keys would receive\s+10200/);
    expect(text).toContain("failed with node2: unreachable");
  });
});
