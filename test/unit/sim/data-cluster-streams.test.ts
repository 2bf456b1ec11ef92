// The simulated nodes stream ranges in small pages (src/sim/data-cluster.ts), so that a range of a
// short run takes several and streams resume from their cursor; a real node keeps the default.

import { describe, expect, it } from "vitest";
import { DataCluster } from "../../../src/sim/data-cluster.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { STREAM_DEFAULTS } from "../../../src/topology/stream.js";

describe("the simulated nodes' range streams", () => {
  it("page a few records at a time", async () => {
    const cluster = new DataCluster({
      seed: 1,
      clock: new VirtualClock({ startMs: 1_780_000_000_000 }),
      nodes: 3,
      replicationFactor: 3,
    });
    await cluster.start("n1");
    const options = cluster.node("n1")?.topology?.service.streams.options;
    expect(options?.pageRecordsMax).toBeLessThanOrEqual(8);
    expect(options?.pageRecordsMax).toBeLessThan(STREAM_DEFAULTS.pageRecordsMax);
    expect(options?.bytesPerSecondMax).toBe(STREAM_DEFAULTS.bytesPerSecondMax);
    cluster.kill("n1");
  });
});
