import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBareServer, type BareServer } from "../../../bench/bare-server.js";
import { KvClient, statusKindOf, errorKindOf } from "../../../src/cli/bench/kv-client.js";
import { runLoadPhase, runRunPhase } from "../../../src/cli/bench/load-generator.js";
import { WORKLOADS } from "../../../src/cli/bench/workload.js";

const SEED = 99;
console.log(`bench load-generator tests: seed ${SEED}`);

let server: BareServer;
let client: KvClient;
const value = Buffer.alloc(100, 7);
const consistency = { w: "quorum", r: "quorum" };

beforeAll(async () => {
  server = await startBareServer();
  client = new KvClient({ urls: [server.url], connectionsPerNode: 8, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client.close();
  await server.close();
});

describe("bench load generator against the bare fastify route", () => {
  it("reads a missing key as the failure `404 not_found`", async () => {
    expect(await client.get(0, "/kv/never-written?r=quorum")).toBe("404 not_found");
  });

  it("loads every key exactly once, so every key then reads back", async () => {
    const load = await runLoadPhase({ client, keyCount: 300, value, concurrency: 8, consistency });
    expect(load.keys).toBe(300);
    expect(load.interrupted).toBe(false);
    expect(load.recorder.summary("update").count).toBe(300);
    expect(load.recorder.summary("update").errorCount).toBe(0);
    const reads = await Promise.all(
      Array.from({ length: 300 }, (_, i) => client.get(0, `/kv/user${i}?r=one`)),
    );
    expect(reads.every((outcome) => outcome === null)).toBe(true);
  });

  it("runs the workload mix, reads and updates both measured, with no errors on loaded keys", async () => {
    const run = await runRunPhase({
      client,
      workload: WORKLOADS.a,
      keyCount: 300,
      distribution: "zipfian",
      value,
      concurrency: 8,
      consistency,
      durationS: 0.5,
      warmupS: 0.2,
      targetRate: null,
      seed: SEED,
    });
    const reads = run.recorder.summary("read");
    const updates = run.recorder.summary("update");
    expect(reads.count).toBeGreaterThan(0);
    expect(updates.count).toBeGreaterThan(0);
    expect(reads.errorCount + updates.errorCount).toBe(0);
    expect(run.seconds).toBeGreaterThan(0);
    expect(run.latencyFrom).toBe("send");
    expect(run.serviceRecorder).toBeNull();
    expect(run.clientCpuCores).toBeGreaterThan(0);
  });

  it("never issues more than the target rate allows over the run", async () => {
    const run = await runRunPhase({
      client,
      workload: WORKLOADS.c,
      keyCount: 300,
      distribution: "uniform",
      value,
      concurrency: 4,
      consistency,
      durationS: 0.5,
      warmupS: 0,
      targetRate: 200,
      seed: SEED,
    });
    // Slots are due every 5 ms from the start: at most 100 fall inside 0.5 s.
    expect(run.recorder.summary("read").count).toBeLessThanOrEqual(100);
    expect(run.recorder.summary("read").count).toBeGreaterThan(0);
    expect(run.latencyFrom).toBe("due-time-when-behind");
    // Every operation's service time is part of its time from the due slot.
    const service = run.serviceRecorder?.summary("read");
    expect(service?.count).toBe(run.recorder.summary("read").count);
    expect(service?.latencyMs.max).toBeLessThanOrEqual(run.recorder.summary("read").latencyMs.max);
  });

  it("stops early when aborted and says so", async () => {
    const controller = new AbortController();
    controller.abort();
    const load = await runLoadPhase({
      client,
      keyCount: 1_000,
      value,
      concurrency: 4,
      consistency,
      signal: controller.signal,
    });
    expect(load.keys).toBe(0);
    expect(load.interrupted).toBe(true);
  });
});

describe("error kinds", () => {
  it("names SPEC §2 error bodies by status and code, and anything else by status", () => {
    expect(
      statusKindOf(
        503,
        JSON.stringify({ error: "unavailable", message: "x", required: 2, alive: 1 }),
      ),
    ).toBe("503 unavailable");
    expect(statusKindOf(502, "<html>bad gateway</html>")).toBe("502");
    expect(statusKindOf(500, JSON.stringify({ error: "Not A Code!" }))).toBe("500");
  });

  it("names client-side failures: timeouts, refused and closed connections", () => {
    expect(errorKindOf(Object.assign(new Error("t"), { code: "UND_ERR_HEADERS_TIMEOUT" }))).toBe(
      "timeout",
    );
    expect(errorKindOf(Object.assign(new Error("r"), { code: "ECONNREFUSED" }))).toBe(
      "connection ECONNREFUSED",
    );
    expect(errorKindOf(Object.assign(new Error("s"), { code: "UND_ERR_SOCKET" }))).toBe(
      "connection closed",
    );
  });

  it("reports a refused connection as its kind rather than throwing", async () => {
    const dead = new KvClient({
      urls: ["http://127.0.0.1:1"],
      connectionsPerNode: 1,
      requestTimeoutMs: 2_000,
    });
    try {
      expect(await dead.put(0, "/kv/x?w=one", value)).toBe("connection ECONNREFUSED");
    } finally {
      await dead.close();
    }
  });
});
