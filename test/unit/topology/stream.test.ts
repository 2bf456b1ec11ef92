// The stream runner (topology/stream.ts) against in-memory endpoints and a manual clock: pages
// through a range in token order, resumes from its cursor on another source when one fails mid-stream,
// stays within its byte rate and concurrency, and gives up after its attempts.

import { describe, expect, it } from "vitest";
import type { Clock } from "../../../src/core/clock.js";
import { TOKEN_SPACE, type Token } from "../../../src/ring/partitioner.js";
import { rangeContains } from "../../../src/ring/token-map.js";
import { StreamFailedError, StreamManager, type StreamedRecord, type StreamEndpoints } from "../../../src/topology/stream.js";

/** A clock whose scheduled tasks run when advance() passes their time; advanced by a pump. */
class ManualClock implements Clock {
  now = 0;
  private tasks: { at: number; task: () => void }[] = [];
  nowMs(): number {
    return this.now;
  }
  schedule(delayMs: number, task: () => void): () => void {
    const entry = { at: this.now + delayMs, task };
    this.tasks.push(entry);
    return () => {
      this.tasks = this.tasks.filter((candidate) => candidate !== entry);
    };
  }
  /** Runs the earliest task (moving time to it); false when none is left. */
  step(): boolean {
    this.tasks.sort((a, b) => a.at - b.at);
    const next = this.tasks.shift();
    if (next === undefined) return false;
    this.now = Math.max(this.now, next.at);
    next.task();
    return true;
  }
}

/** Runs `promise` to completion, stepping the clock whenever nothing else is left to do. */
async function drive<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  promise.then(
    (value) => {
      settled = true;
      result = { ok: true, value };
    },
    (error: unknown) => {
      settled = true;
      result = { ok: false, error };
    },
  );
  for (let turns = 0; !settled && turns < 100_000; turns++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!settled) clock.step();
  }
  if (result === undefined) throw new Error("the stream never settled");
  if (!result.ok) throw result.error;
  return result.value;
}

function recordsOf(count: number): StreamedRecord[] {
  // Tokens spread over the ring, ascending.
  return Array.from({ length: count }, (_, index) => ({
    key: `k${index}`,
    record: new Uint8Array(100),
    token: (TOKEN_SPACE / BigInt(count + 1)) * BigInt(index + 1),
  }));
}

/** Nodes holding a sorted record list; fetch pages (start, end] like the store does. */
class Nodes implements StreamEndpoints {
  readonly data = new Map<string, StreamedRecord[]>();
  readonly received = new Map<string, Map<string, StreamedRecord>>();
  readonly dead = new Set<string>();
  /** Fail the fetch from this node after this many pages (a crash mid-stream). */
  failAfterPages = new Map<string, number>();
  readonly fetches: { source: string; start: Token }[] = [];

  async fetch(source: string, range: { start: Token; end: Token }, limit: number): Promise<{ records: readonly StreamedRecord[]; done: boolean }> {
    const budget = this.failAfterPages.get(source);
    if (this.dead.has(source) || budget === 0) throw new Error(`${source} refused the connection`);
    if (budget !== undefined) this.failAfterPages.set(source, budget - 1);
    this.fetches.push({ source, start: range.start });
    const inRange = (this.data.get(source) ?? []).filter((record) => rangeContains(range, record.token));
    // Token order from just after start, wrapping like the store's scan.
    inRange.sort((a, b) => {
      const da = (a.token - range.start + TOKEN_SPACE) % TOKEN_SPACE;
      const db = (b.token - range.start + TOKEN_SPACE) % TOKEN_SPACE;
      return da < db ? -1 : da > db ? 1 : 0;
    });
    return { records: inRange.slice(0, limit), done: inRange.length <= limit };
  }

  async push(target: string, records: readonly StreamedRecord[]): Promise<void> {
    if (this.dead.has(target)) throw new Error(`${target} is down`);
    let map = this.received.get(target);
    if (map === undefined) this.received.set(target, (map = new Map()));
    for (const record of records) map.set(record.key, record);
  }

  isLive(node: string): boolean {
    return !this.dead.has(node);
  }
}

const WHOLE_RING = { start: 5n, end: 5n };

describe("StreamManager", () => {
  it("streams every record of a range to the target, page by page, and reports it done", async () => {
    const clock = new ManualClock();
    const nodes = new Nodes();
    nodes.data.set("a", recordsOf(1_000));
    const manager = new StreamManager({ pageRecordsMax: 64 }, { endpoints: nodes, clock });
    const outcome = await drive(clock, manager.run("bootstrap t", [{ range: WHOLE_RING, target: "t", sources: ["a"] }]));
    expect(nodes.received.get("t")?.size).toBe(1_000);
    expect(outcome.keys).toBeGreaterThanOrEqual(1_000);
    const [progress] = manager.progress();
    expect(progress).toMatchObject({ change: "bootstrap t", state: "done", progress: 1, target: "t", source: "a", sourceChanges: 0 });
  });

  it("resumes from the last token on another source when the source fails mid-stream, without starting over", async () => {
    const clock = new ManualClock();
    const nodes = new Nodes();
    nodes.data.set("a", recordsOf(1_000));
    nodes.data.set("b", recordsOf(1_000));
    nodes.failAfterPages.set("a", 5);
    const manager = new StreamManager({ pageRecordsMax: 100 }, { endpoints: nodes, clock });
    await drive(clock, manager.run("bootstrap t", [{ range: WHOLE_RING, target: "t", sources: ["a", "b"] }]));
    expect(nodes.received.get("t")?.size).toBe(1_000);
    const fromB = nodes.fetches.filter((fetch) => fetch.source === "b");
    expect(fromB.length).toBeGreaterThan(0);
    // The first page asked of b starts where a stopped (the cursor), not at the range's start.
    expect(fromB[0]?.start).not.toBe(WHOLE_RING.start);
    expect(nodes.fetches.filter((fetch) => fetch.source === "a")).toHaveLength(5);
    // 5 pages from a, then the other ~5 from b: about 10 pages, not 15.
    expect(nodes.fetches.length).toBeLessThanOrEqual(12);
    expect(manager.progress()[0]).toMatchObject({ state: "done", sourceChanges: 1, attempts: 1 });
  });

  it("skips sources that are down and fails for good after attemptsMax when none is live", async () => {
    const clock = new ManualClock();
    const nodes = new Nodes();
    nodes.data.set("b", recordsOf(10));
    nodes.dead.add("a");
    const manager = new StreamManager({ attemptsMax: 3 }, { endpoints: nodes, clock });
    await drive(clock, manager.run("c", [{ range: WHOLE_RING, target: "t", sources: ["a", "b"] }]));
    expect(nodes.received.get("t")?.size).toBe(10);

    nodes.dead.add("b");
    await expect(drive(clock, manager.run("d", [{ range: WHOLE_RING, target: "t", sources: ["a", "b"] }]))).rejects.toBeInstanceOf(StreamFailedError);
    expect(manager.progress().find((progress) => progress.change === "d")).toMatchObject({ state: "failed", attempts: 3 });
  });

  it("keeps all streams together under bytesPerSecondMax", async () => {
    const clock = new ManualClock();
    const nodes = new Nodes();
    nodes.data.set("a", recordsOf(2_000));
    const bytesPerSecondMax = 50_000;
    const manager = new StreamManager({ pageRecordsMax: 50, bytesPerSecondMax, concurrentStreamsMax: 4 }, { endpoints: nodes, clock });
    const half = TOKEN_SPACE / 2n;
    const outcome = await drive(
      clock,
      manager.run("c", [
        { range: { start: 0n, end: half }, target: "t", sources: ["a"] },
        { range: { start: half, end: 0n }, target: "u", sources: ["a"] },
      ]),
    );
    // Bytes over elapsed virtual time stay at the rate (one page of slack for the first send).
    const slack = 50 * 110;
    expect(outcome.bytes - slack).toBeLessThanOrEqual((bytesPerSecondMax * clock.now) / 1000);
    expect(clock.now).toBeGreaterThan(0);
  });

  it("runs at most concurrentStreamsMax streams at once", async () => {
    const clock = new ManualClock();
    let running = 0;
    let most = 0;
    const endpoints: StreamEndpoints = {
      isLive: () => true,
      fetch: async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => clock.schedule(10, resolve));
        running--;
        return { records: [], done: true };
      },
      push: async () => undefined,
    };
    const manager = new StreamManager({ concurrentStreamsMax: 2 }, { endpoints, clock });
    const tasks = Array.from({ length: 6 }, (_, index) => ({
      range: { start: BigInt(index * 10), end: BigInt(index * 10 + 5) },
      target: "t",
      sources: ["a"],
    }));
    await drive(clock, manager.run("c", tasks));
    expect(most).toBe(2);
    expect(manager.progress().filter((progress) => progress.state === "done")).toHaveLength(6);
  });
});
