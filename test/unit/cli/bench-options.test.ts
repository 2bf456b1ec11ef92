import { Command, CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { registerBenchCommand } from "../../../src/cli/bench.js";
import {
  BENCH_DEFAULTS,
  BENCH_LIMITS,
  parseBenchOptions,
  parseNodeUrls,
} from "../../../src/cli/bench/options.js";
import {
  EXIT_CODES,
  printError,
  reportFailure,
  type CliOutput,
  type ExitCode,
} from "../../../src/cli/shared.js";
import { ConfigError } from "../../../src/node/config.js";

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** Runs `grapevine bench <args>` the way main.ts does, without a process: exit code and stderr. */
async function benchCli(
  args: readonly string[],
): Promise<{ code: ExitCode; stderr: string; stdout: string }> {
  let stderr = "";
  let stdout = "";
  const output: CliOutput = { out: (text) => (stdout += text), err: (text) => (stderr += text) };
  let code: ExitCode = EXIT_CODES.ok;
  const program = new Command("grapevine")
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err, outputError: () => undefined });
  registerBenchCommand(program, output, (exit) => (code = exit));
  try {
    await program.parseAsync(["node", "grapevine", "bench", ...args]);
  } catch (error) {
    if (error instanceof CommanderError) {
      printError(output, error.message);
      return { code: EXIT_CODES.usage, stderr, stdout };
    }
    return { code: reportFailure(output, error), stderr, stdout };
  }
  return { code, stderr, stdout };
}

describe("grapevine bench options", () => {
  it("--client: any-node by default, token-aware on request, nothing else", () => {
    expect(parseBenchOptions({}, {}).client).toBe("any-node");
    expect(parseBenchOptions({ client: "token-aware" }, {}).client).toBe("token-aware");
    expect(configErrorOf(() => parseBenchOptions({ client: "nearest" }, {})).message).toMatch(
      /--client must be one of token-aware, any-node/,
    );
  });

  it("defaults to workload a, 10,000 zipfian keys of 100 bytes, 64 in flight for 30 s after 2 s, quorum, against the default node", () => {
    const options = parseBenchOptions({}, {});
    expect(options.target).toEqual({ kind: "nodes", urls: ["http://127.0.0.1:7001"] });
    expect(options.workload.name).toBe("a");
    expect([options.keys, options.valueSize, options.distribution, options.concurrency]).toEqual([
      10_000,
      100,
      "zipfian",
      64,
    ]);
    expect([options.durationS, options.warmupS, options.w, options.r]).toEqual([
      30,
      2,
      "quorum",
      "quorum",
    ]);
    expect([options.json, options.load, options.targetRate, options.progress]).toEqual([
      false,
      true,
      null,
      null,
    ]);
    expect(Number.isInteger(options.seed)).toBe(true);
    expect(Object.isFrozen(options)).toBe(true);
    expect(parseBenchOptions({}, { GRAPEVINE_NODE: "127.0.0.1:9000" }).target).toEqual({
      kind: "nodes",
      urls: ["http://127.0.0.1:9000"],
    });
  });

  it("takes every flag in range", () => {
    const options = parseBenchOptions(
      {
        nodes: "http://127.0.0.1:7001, 127.0.0.1:7002",
        workload: "C",
        keys: "500",
        valueSize: "1024",
        distribution: "uniform",
        concurrency: "256",
        duration: "2.5",
        warmup: "0",
        w: "ALL",
        r: "2",
        json: true,
        seed: "42",
        load: false,
        targetRate: "5000",
        progress: false,
      },
      {},
    );
    expect(options.target).toEqual({
      kind: "nodes",
      urls: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"],
    });
    expect(options.workload.name).toBe("c");
    expect([options.keys, options.valueSize, options.distribution, options.concurrency]).toEqual([
      500,
      1024,
      "uniform",
      256,
    ]);
    expect([options.durationS, options.warmupS, options.w, options.r, options.seed]).toEqual([
      2.5,
      0,
      "all",
      "2",
      42,
    ]);
    expect([options.json, options.load, options.targetRate, options.progress]).toEqual([
      true,
      false,
      5000,
      false,
    ]);
  });

  it("starts local nodes with their node options, logging warnings only unless told otherwise", () => {
    const options = parseBenchOptions({ local: "3", rf: "3", sync: "on" }, {});
    expect(options.target).toEqual({
      kind: "local",
      nodeCount: 3,
      basePort: null,
      nodeValues: { rf: "3", sync: "on", logLevel: BENCH_DEFAULTS.localLogLevel },
    });
    const withPort = parseBenchOptions({ local: "2", basePort: "9100", logLevel: "info" }, {});
    expect(withPort.target).toEqual({
      kind: "local",
      nodeCount: 2,
      basePort: 9100,
      nodeValues: { logLevel: "info" },
    });
  });

  it("refuses each bad value with a ConfigError naming its flag", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ workload: "d" }, "--workload"],
      [{ keys: "0" }, "--keys"],
      [{ keys: String(BENCH_LIMITS.keysMax + 1) }, "--keys"],
      [{ keys: "1e3" }, "--keys"],
      [{ valueSize: "0" }, "--value-size"],
      [{ valueSize: String(BENCH_LIMITS.remoteValueSizeMax + 1) }, "--value-size"],
      [{ distribution: "latest" }, "--distribution"],
      [{ concurrency: "0" }, "--concurrency"],
      [{ concurrency: String(BENCH_LIMITS.concurrencyMax + 1) }, "--concurrency"],
      [{ duration: "0" }, "--duration"],
      [{ duration: "-1" }, "--duration"],
      [{ duration: "ten" }, "--duration"],
      [{ warmup: "-1" }, "--warmup"],
      [{ w: "most" }, "--w"],
      [{ r: "0" }, "--r"],
      [{ r: "33" }, "--r"],
      [{ seed: "-1" }, "--seed"],
      [{ targetRate: "0" }, "--target-rate"],
      [{ nodes: "" }, "--nodes"],
      [{ nodes: "ftp://x:1" }, "--nodes"],
      [{ nodes: "http://a:1/kv" }, "--nodes"],
      [{ nodes: "http://a:1,http://a:1" }, "--nodes"],
      [{ nodes: "http://a:1", local: "3" }, "--local"],
      [{ local: "0" }, "--local"],
      [{ local: "3", basePort: "65535" }, "--base-port"],
      [{ basePort: "9000" }, "--base-port"],
      [{ sync: "on" }, "--sync"],
      [{ rf: "3" }, "--rf"],
      [{ local: "3", vnodes: "0" }, "--vnodes"],
    ];
    for (const [values, flag] of cases) {
      expect(
        configErrorOf(() => parseBenchOptions(values, {})).option,
        JSON.stringify(values),
      ).toBe(flag);
    }
  });

  it("bounds --value-size by the local nodes' --max-value-bytes and --w/--r by their replication factor", () => {
    expect(
      parseBenchOptions({ local: "1", maxValueBytes: "2048", valueSize: "2048" }, {}).valueSize,
    ).toBe(2048);
    expect(
      configErrorOf(() =>
        parseBenchOptions({ local: "1", maxValueBytes: "2048", valueSize: "2049" }, {}),
      ).option,
    ).toBe("--value-size");
    expect(configErrorOf(() => parseBenchOptions({ local: "3", rf: "2", w: "3" }, {})).option).toBe(
      "--w",
    );
    expect(parseBenchOptions({ local: "3", rf: "2", w: "2" }, {}).w).toBe("2");
  });

  it("reads --nodes as origins, a bare HOST:PORT as http", () => {
    expect(parseNodeUrls("127.0.0.1:7001,https://db.example:443/")).toEqual([
      "http://127.0.0.1:7001",
      "https://db.example",
    ]);
  });
});

describe("grapevine bench usage errors", () => {
  it.each([
    [["--concurrency", "0"], "--concurrency"],
    [["--workload", "z"], "--workload"],
    [["--duration", "x"], "--duration"],
    [["--local", "2", "--nodes", "http://127.0.0.1:1"], "--local"],
    [["--no-such-flag"], "--no-such-flag"],
  ])(
    "%j exits 2 with one stderr line naming %s, before connecting to anything",
    async (args, flag) => {
      const result = await benchCli(args);
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(flag);
      expect(result.stdout).toBe("");
    },
  );
});
