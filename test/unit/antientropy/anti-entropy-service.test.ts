// The background loop's turn-taking and the operator's job, with a virtual clock and a transport
// that records whom it was asked about what (answering from the same store, so every range is in
// sync and a session is one roots question).

import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AntiEntropyService } from "../../../src/antientropy/anti-entropy-service.js";
import type { RangeBounds } from "../../../src/antientropy/hash-tree.js";
import { buildRangeTree } from "../../../src/antientropy/range-trees.js";
import type { RepairTransport } from "../../../src/antientropy/repair-session.js";
import { NODE_HASH_BYTES } from "../../../src/antientropy/tree-diff.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { openLevelStore, type LevelStore } from "../../../src/storage/store.js";
import { waitFor } from "../../support/wait-for.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const task of cleanup.splice(0).reverse()) await task();
});

async function setup(live: (id: string) => boolean = () => true, roundTripMs = 0) {
  const dataDir = await mkdtemp(path.join(tmpdir(), "grapevine-ae-"));
  const store: LevelStore = await openLevelStore({ dataDir, sync: false });
  cleanup.push(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const quarter = 2n ** 62n;
  // Two tokens each: six ranges, every node a replica of all (rf 3).
  const ring = TokenMap.build(
    new Map([
      ["a", [quarter, (5n * quarter) / 2n]],
      ["b", [2n * quarter, (7n * quarter) / 2n]],
      ["c", [3n * quarter, quarter / 2n]],
    ]),
  );
  const asked: { peer: string; ranges: RangeBounds[] }[] = [];
  const clock = new VirtualClock({ startMs: 1_000_000 });
  const transport: RepairTransport = {
    async roots(peer, _session, window, ranges) {
      asked.push({ peer, ranges: [...ranges] });
      // The round trip's busy time, in the service's (virtual) time.
      if (roundTripMs > 0) clock.runFor(roundTripMs);
      const value: Uint8Array[] = [];
      for (const range of ranges) {
        const root = (await buildRangeTree(store, range)).root();
        value.push(root.subarray(window * NODE_HASH_BYTES, (window + 1) * NODE_HASH_BYTES));
      }
      return { value, bytesSent: 20 * ranges.length, bytesReceived: 4 * ranges.length };
    },
    nodes: () => Promise.reject(new Error("in sync: no descent")),
    entries: () => Promise.reject(new Error("in sync: no entries")),
    exchange: () => Promise.reject(new Error("in sync: no exchange")),
    buckets: () => Promise.reject(new Error("in sync: no buckets")),
  };
  let jobs = 0;
  const service = new AntiEntropyService(
    { self: "a", replicationFactor: 3, intervalMs: 1_000 },
    {
      store,
      transport,
      clock,
      ring: () => ring,
      isLive: live,
      log: { info: () => undefined, warn: () => undefined },
      newJobId: () => `job-${++jobs}`,
    },
  );
  cleanup.push(() => service.close());
  return { service, asked, clock };
}

/** Until the service has nothing running (sessions read the store: real IO, so real time). */
async function settle(
  service: AntiEntropyService,
  done: () => boolean = () => true,
): Promise<void> {
  await waitFor(async () => done() && service.stats().sessionsRunning === 0, {
    timeoutMs: 10_000,
    intervalMs: 5,
    what: "sessions to end",
  });
}

describe("anti-entropy service", () => {
  it("repairs one range with one other replica per interval, taking every pair in turn", async () => {
    const { service, asked, clock } = await setup();
    const pairs = service.pairs();
    expect(pairs).toHaveLength(6 * 2);
    service.tick(clock.nowMs());
    expect(asked).toHaveLength(0); // not due before the first interval
    for (let turn = 0; turn < pairs.length; turn++) {
      clock.runFor(1_000);
      service.tick(clock.nowMs());
      await settle(service, () => asked.length === turn + 1);
    }
    expect(asked.map(({ peer, ranges }) => `${peer}:${ranges[0]?.start}`)).toEqual(
      pairs.map(({ peer, range }) => `${peer}:${range.start}`),
    );
    expect(asked.every(({ ranges }) => ranges.length === 1)).toBe(true);
    expect(service.stats().sessionsStarted.background).toBe(pairs.length);
    expect(service.stats().totals.rangesCompared).toBe(pairs.length);
  });

  it("passes over a replica that is down", async () => {
    const { service, asked, clock } = await setup((id) => id !== "b");
    for (let turn = 0; turn < 6; turn++) {
      clock.runFor(1_000);
      service.tick(clock.nowMs());
      await settle(service, () => asked.length === turn + 1);
    }
    expect(asked.map(({ peer }) => peer)).toEqual(Array(6).fill("c"));
  });

  it("runs an operator's repair as a job: every range against every other replica, one session per replica", async () => {
    const { service, asked } = await setup();
    const id = service.startRepair({ dryRun: false });
    await settle(service, () => service.job(id)?.state !== "running");
    const job = service.job(id);
    expect(job).toMatchObject({ state: "done", peersTotal: 2, peersDone: 2, rangesTotal: 12 });
    expect(job?.summary).toMatchObject({
      rangesCompared: 12,
      rangesDiffering: 0,
      keysSent: 0,
      keysReceived: 0,
      roundTrips: 2,
    });
    expect(asked.map(({ peer, ranges }) => [peer, ranges.length]).sort()).toEqual([
      ["b", 6],
      ["c", 6],
    ]);
    expect(service.job("no-such-job")).toBeUndefined();
  });

  it("repairs one named range against its other replicas, and refuses a range it does not replicate", async () => {
    const { service, asked } = await setup();
    const [first] = service.pairs();
    if (first === undefined) throw new Error("no pairs");
    const id = service.startRepair({ dryRun: false, range: first.range });
    await settle(service, () => service.job(id)?.state !== "running");
    expect(service.job(id)).toMatchObject({
      state: "done",
      range: first.range,
      peersTotal: 2,
      rangesTotal: 2,
    });
    expect(asked.map(({ peer, ranges }) => [peer, ranges]).sort()).toEqual([
      ["b", [first.range]],
      ["c", [first.range]],
    ]);
    const elsewhere = { start: first.range.start, end: first.range.start + 1n };
    expect(() => service.startRepair({ dryRun: false, range: elsewhere })).toThrow(
      /replicates no range/,
    );
  });

  it("keeps a duty cycle: after a round trip that took t ms it rests t ms (busyFractionMax 0.5) before going on", async () => {
    const { service, asked, clock } = await setup(() => true, 100);
    const id = service.startRepair({ dryRun: false });
    // The first session's round trip took 100 virtual ms; it then rests, a timer on the virtual
    // clock.
    await waitFor(async () => clock.pending > 0, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: "the first session to rest",
    });
    expect(asked).toHaveLength(1);
    expect((clock.nextDueMs() ?? 0) - clock.nowMs()).toBe(100);
    // One session at a time: the second replica's session starts only once the first has rested.
    clock.runFor(99);
    expect(asked).toHaveLength(1);
    clock.runFor(1);
    await waitFor(async () => asked.length === 2, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: "the second session after the rest",
    });
    await waitFor(async () => clock.pending > 0, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: "the second session to rest",
    });
    clock.runFor(100);
    await settle(service, () => service.job(id)?.state !== "running");
    expect(service.job(id)?.state).toBe("done");
  });
});
