// `grapevine bench` as a user runs it: against a running server (the bare fastify route of
// bench/bare-server.ts, which speaks SPEC §2's /kv) and with --local 3, where it starts, uses and
// removes its own cluster. Each run gets its own TMPDIR so "no temp dirs left" is checkable.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBareServer, type BareServer } from "../../bench/bare-server.js";
import type { BenchResult } from "../../src/cli/bench/report.js";
import {
  GRAPEVINE_BIN,
  REPO_ROOT,
  runGrapevine,
  withoutGrapevineVariables,
} from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const BENCH_TIMEOUT_MS = 90_000;

let server: BareServer;
const scratch: string[] = [];

beforeAll(async () => {
  server = await startBareServer();
});

afterAll(async () => {
  await server.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function freshTmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-bench-test-"));
  scratch.push(dir);
  return dir;
}

/** PIDs whose command line mentions `text` (a temp dir the bench was told to use). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (cmdline.includes(text) && state !== "Z") pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

function expectPercentiles(result: BenchResult, operation: "read" | "update"): void {
  const report = result.operations[operation];
  expect(report, `${operation} report`).toBeDefined();
  const latency = report?.latencyMs;
  expect(latency?.p50).toBeGreaterThan(0);
  for (const [lower, upper] of [
    ["p50", "p95"],
    ["p95", "p99"],
    ["p99", "p999"],
    ["p999", "max"],
  ] as const) {
    expect(latency?.[upper]).toBeGreaterThanOrEqual(latency?.[lower] ?? Infinity);
  }
}

describe("grapevine bench --nodes", () => {
  it("loads, runs workload a and prints one JSON object with throughput and every percentile", async () => {
    const result = await runGrapevine(
      [
        "bench",
        "--nodes",
        server.url,
        "--duration",
        "3",
        "--warmup",
        "1",
        "--keys",
        "500",
        "--concurrency",
        "16",
        "--json",
        "--seed",
        "7",
      ],
      { timeoutMs: BENCH_TIMEOUT_MS },
    );
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as BenchResult;
    expect(parsed.workload).toBe("a");
    expect(parsed.parameters.seed).toBe(7);
    expect(parsed.load?.keys).toBe(500);
    expect(parsed.load?.errorCount).toBe(0);
    expect(parsed.run.throughput).toBeGreaterThan(0);
    expect(parsed.run.errorCount).toBe(0);
    expectPercentiles(parsed, "read");
    expectPercentiles(parsed, "update");
    // No progress on stderr when it is not a terminal.
    expect(result.stderr).toBe("");
  });

  it("prints the table, and with --no-load reads keys loaded by an earlier run", async () => {
    const result = await runGrapevine(
      [
        "bench",
        "--nodes",
        server.url,
        "--workload",
        "c",
        "--no-load",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--keys",
        "500",
        "--distribution",
        "uniform",
      ],
      { timeoutMs: BENCH_TIMEOUT_MS },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("load: skipped");
    expect(result.stdout).toMatch(/│ read +│ +[\d,]+ │/);
    expect(result.stdout).not.toContain("update");
    expect(result.stdout).toContain(", 0 errors");
  });

  it("ends the run early on SIGINT and still reports what it measured, marked interrupted", async () => {
    const child = spawn(
      process.execPath,
      [
        GRAPEVINE_BIN,
        "bench",
        "--nodes",
        server.url,
        "--workload",
        "c",
        "--no-load",
        "--keys",
        "500",
        "--duration",
        "120",
        "--warmup",
        "0",
        "--json",
        "--progress",
      ],
      {
        cwd: REPO_ROOT,
        env: withoutGrapevineVariables(process.env),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) =>
      child.once("close", (code) => resolve(code)),
    );
    try {
      // --progress prints a line a second off a terminal; a measured operation means the run is on.
      await waitFor(() => /[1-9][\d,]* measured/.test(stderr), {
        timeoutMs: 30_000,
        what: "a progress line with measured operations",
      });
      child.kill("SIGINT");
      const code = await exited;
      expect(code, stderr).toBe(0);
      const parsed = JSON.parse(stdout) as BenchResult;
      expect(parsed.run.interrupted).toBe(true);
      expect(parsed.run.operations).toBeGreaterThan(0);
      expect(parsed.run.seconds).toBeLessThan(120);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("fails with exit 1 and one line when a node cannot be reached", async () => {
    const result = await runGrapevine(
      ["bench", "--nodes", "http://127.0.0.1:1", "--duration", "1"],
      { timeoutMs: BENCH_TIMEOUT_MS },
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("cannot reach http://127.0.0.1:1");
  });

  it("exits 2 with one stderr line on a bad option", async () => {
    const result = await runGrapevine(["bench", "--keys", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("--keys");
  });
});

describe("grapevine bench --local", () => {
  it(
    "starts 3 nodes, prints JSON with throughput and percentiles, and leaves no processes or temp dirs",
    async () => {
      const tmp = freshTmpDir();
      const result = await runGrapevine(
        ["bench", "--local", "3", "--duration", "3", "--keys", "500", "--json"],
        {
          env: { TMPDIR: tmp },
          timeoutMs: BENCH_TIMEOUT_MS,
        },
      );
      expect(readdirSync(tmp)).toEqual([]);
      expect(processesMentioning(tmp)).toEqual([]);
      expect(result.code, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout) as BenchResult;
      expect(parsed.local).toBe(3);
      expect(parsed.nodes).toHaveLength(3);
      expect(parsed.run.throughput).toBeGreaterThan(0);
      expect(parsed.run.errorCount).toBe(0);
      expectPercentiles(parsed, "read");
      expectPercentiles(parsed, "update");
    },
    BENCH_TIMEOUT_MS + 10_000,
  );

  it(
    "stops its nodes and removes its temp dir when interrupted",
    async () => {
      const tmp = freshTmpDir();
      const child = spawn(
        process.execPath,
        [
          GRAPEVINE_BIN,
          "bench",
          "--local",
          "1",
          "--rf",
          "1",
          "--keys",
          "100000",
          "--duration",
          "120",
          "--progress",
          "--w",
          "one",
          "--r",
          "one",
        ],
        {
          cwd: REPO_ROOT,
          env: { ...withoutGrapevineVariables(process.env), TMPDIR: tmp },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      let closed = false;
      const exited = new Promise<number | null>((resolve) =>
        child.once("close", (code) => {
          closed = true;
          resolve(code);
        }),
      );
      try {
        // Interrupt once the node is up and the bench is loading (or once it has given up on its
        // own).
        await waitFor(() => closed || /^(load|run|warm-up)/m.test(stderr), {
          timeoutMs: 60_000,
          what: "the bench to start loading",
        });
        child.kill("SIGINT");
        await exited;
        expect(stderr).not.toContain("unexpected error");
        expect(readdirSync(tmp)).toEqual([]);
        expect(processesMentioning(tmp)).toEqual([]);
      } finally {
        child.kill("SIGKILL");
      }
    },
    BENCH_TIMEOUT_MS + 10_000,
  );
});
