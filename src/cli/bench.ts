// cli/bench.ts — `grapevine bench [options]`: YCSB-style load against a running cluster (--nodes)
// or one it starts (--local N), SPEC §6. The harness is src/cli/bench/; this file is the command:
// its flags, the Ctrl-C behaviour, and where the report goes (stdout; progress and notes on
// stderr).
//
// A first Ctrl-C (SIGINT/SIGTERM) ends the current phase early and still prints what was measured,
// marked interrupted; the local cluster, if any, is stopped either way. A second one exits at once
// through the default handler.

import type { Command } from "commander";
import { processEnvironment } from "../node/config.js";
import { runBenchmark } from "./bench/benchmark.js";
import { BENCH_DEFAULTS, BENCH_LIMITS, parseBenchOptions } from "./bench/options.js";
import { createProgressDisplay, NO_PROGRESS } from "./bench/progress.js";
import { formatJson, formatText } from "./bench/report.js";
import { DEV_PASS_THROUGH_OPTIONS } from "./dev.js";
import { EXIT_CODES, isTerminal, printError, type CliOutput, type ExitCode } from "./shared.js";
import { addNodeOptionAliases, addNodeOptions } from "./start.js";

export function registerBenchCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const command = addBenchFlags(program.command("bench"));
  addNodeOptions(command, DEV_PASS_THROUGH_OPTIONS);
  addNodeOptionAliases(command, DEV_PASS_THROUGH_OPTIONS);
  command.addHelpText(
    "after",
    "\nThe node options apply with --local only and are passed to every node it starts (their logs default to --log-level warn).\n",
  );
  command.action(async (values: Record<string, unknown>) => {
    await runBenchCommand(values, output, setExit);
  });
}

/** The bench's own flags (SPEC §6); the node options of --local are added beside them. */
function addBenchFlags(command: Command): Command {
  return command
    .description(
      "benchmark a cluster with YCSB's core workloads: load the keys, run the mix, report throughput and latency",
    )
    .option(
      "--nodes <urls>",
      "comma-separated node URLs to spread requests over (default: --node's default, http://127.0.0.1:7001)",
    )
    .option(
      "--local <n>",
      `start a local cluster of n nodes for the run (1 to ${BENCH_LIMITS.localNodesMax}), stopped afterwards`,
    )
    .option(
      "--base-port <port>",
      "with --local: node i listens on base-port + i - 1 (default: free ports)",
    )
    .option(
      "--workload <a|b|c|w>",
      `a: 50% read/50% update, b: 95/5, c: read only, w: write only (default: ${BENCH_DEFAULTS.workload})`,
    )
    .option(
      "--keys <n>",
      `records loaded and chosen from (default: ${BENCH_DEFAULTS.keys}, at most ${BENCH_LIMITS.keysMax})`,
    )
    .option("--value-size <bytes>", `bytes per value (default: ${BENCH_DEFAULTS.valueSize})`)
    .option(
      "--distribution <zipfian|uniform>",
      `key popularity; zipfian is YCSB's scrambled zipfian, 0.99 (default: ${BENCH_DEFAULTS.distribution})`,
    )
    .option(
      "--concurrency <n>",
      `requests in flight, closed loop (default: ${BENCH_DEFAULTS.concurrency}, at most ${BENCH_LIMITS.concurrencyMax})`,
    )
    .option("--duration <s>", `measured seconds of the run (default: ${BENCH_DEFAULTS.durationS})`)
    .option(
      "--warmup <s>",
      `seconds run before measuring starts (default: ${BENCH_DEFAULTS.warmupS})`,
    )
    .option(
      "--target-rate <ops/s>",
      "pace the run at this many operations per second (default: as fast as answers come)",
    )
    .option(
      "--client <token-aware|any-node>",
      "token-aware: each request to a replica of its key, from the ring; any-node: round-robin over the nodes (default: any-node)",
    )
    .option("--w <level>", "write consistency: one, quorum, all or a number (default: quorum)")
    .option("--r <level>", "read consistency: one, quorum, all or a number (default: quorum)")
    .option(
      "--seed <n>",
      "seed of the key and operation choices and of the value bytes (default: random, printed)",
    )
    .option("--load", "write every key once before the run (default)")
    .option("--no-load", "skip the load phase: the keys are already there")
    .option("--json", "print the result as one JSON object")
    .option("--progress", "show progress on stderr even when it is not a terminal")
    .option("--no-progress", "never show progress");
}

async function runBenchCommand(
  values: Record<string, unknown>,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): Promise<void> {
  const env = processEnvironment();
  const options = parseBenchOptions(values, env);
  const showProgress = options.progress ?? isTerminal(process.stderr);
  const stop = new AbortController();
  const onSignal = (): void => {
    // The second signal finds no handler and ends the process the default way.
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await runBenchmark(options, {
      env,
      progress: showProgress ? createProgressDisplay(process.stderr) : NO_PROGRESS,
      signal: stop.signal,
      note: (line) => printError(output, line),
    });
    output.out(options.json ? formatJson(result) : formatText(result));
    // Every measured operation failing is a failed benchmark, not a slow one.
    const failed = result.run.operations === 0 && result.run.errorCount > 0;
    setExit(failed ? EXIT_CODES.failed : EXIT_CODES.ok);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
