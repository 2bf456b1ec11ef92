// cli/start.ts — `grapevine start [options]`: one node in the foreground (SPEC §1).
//
// Every node option is a string flag handed raw to parseNodeConfig together with the environment, so
// validation, defaults and error wording live in one place (node/config.ts). The command then runs the
// node until SIGINT or SIGTERM and shuts it down cleanly (exit 0); a second signal, or a shutdown that
// outlasts `shutdownTimeoutMs`, forces exit 1. When the process has an IPC channel (a child of
// `grapevine dev`), losing it counts as a stop signal, so a killed `dev` leaves no orphan nodes.

import type { Command } from "commander";
import {
  ConfigError,
  CONFIG_DEFAULTS,
  NODE_OPTION_NAMES,
  parseNodeConfig,
  processEnvironment,
  type Environment,
  type NodeOptionName,
  type RawNodeOptions,
} from "../node/config.js";
import type { GrapevineNode } from "../node/node.js";
import { CliError, EXIT_CODES, printError, type CliOutput, type ExitCode } from "./shared.js";

export const START_LIMITS = {
  /** A clean shutdown that takes longer than this is abandoned with exit 1 (a stuck request, a hung close). */
  shutdownTimeoutMs: 15_000,
} as const;

/** The value placeholder and help line of each node option (SPEC §1 "Node options"). */
export const NODE_OPTION_HELP: Readonly<Record<NodeOptionName, { readonly value: string; readonly help: string }>> = {
  id: { value: "id", help: "this node's name, unique in the cluster (default: derived from --advertise)" },
  listen: { value: "host:port", help: `where the node serves HTTP (default: ${CONFIG_DEFAULTS.listen})` },
  advertise: { value: "host:port", help: "the address other nodes use to reach this one (default: --listen)" },
  seeds: { value: "a,b,...", help: "HOST:PORT addresses to contact at start and now and then (default: none)" },
  "data-dir": { value: "dir", help: "LevelDB and node state (default: ./data/<id>)" },
  "replication-factor": {
    value: "n",
    help: `replicas per key (default: ${CONFIG_DEFAULTS.replicationFactor}; --rf for short)`,
  },
  vnodes: { value: "n", help: `tokens per node (default: ${CONFIG_DEFAULTS.vnodes})` },
  "read-consistency": { value: "level", help: "one, quorum, all or a number (default: quorum)" },
  "write-consistency": { value: "level", help: "one, quorum, all or a number (default: quorum)" },
  "request-timeout-ms": {
    value: "ms",
    help: `coordinator's deadline for replica answers (default: ${CONFIG_DEFAULTS.requestTimeoutMs})`,
  },
  "max-clock-offset-ms": {
    value: "ms",
    help: `largest clock offset tolerated between nodes; further ahead is refused, a node this far off stops coordinating writes (default: ${CONFIG_DEFAULTS.maxClockOffsetMs})`,
  },
  "gossip-interval-ms": { value: "ms", help: `one gossip round (default: ${CONFIG_DEFAULTS.gossipIntervalMs})` },
  "phi-threshold": { value: "phi", help: `failure detector's conviction threshold (default: ${CONFIG_DEFAULTS.phiThreshold})` },
  "hinted-handoff": { value: "on|off", help: "store hints for down replicas and replay them (default: on)" },
  "hint-window-s": { value: "s", help: `hints older than this are dropped (default: ${CONFIG_DEFAULTS.hintWindowS})` },
  "anti-entropy-interval-s": {
    value: "s|off",
    help: `background Merkle exchange interval (default: ${CONFIG_DEFAULTS.antiEntropyIntervalS})`,
  },
  "max-value-bytes": { value: "bytes", help: `larger values are refused with 413 (default: ${CONFIG_DEFAULTS.maxValueBytes})` },
  "stream-bytes-per-s": {
    value: "bytes",
    help: `range streaming during ring changes, bytes per second over all streams (default: ${CONFIG_DEFAULTS.streamBytesPerS})`,
  },
  "streams-max": { value: "n", help: `range streams run at once (default: ${CONFIG_DEFAULTS.streamsMax})` },
  "cluster-secret": { value: "secret", help: "node-to-node routes refuse callers without it (default: none)" },
  sync: { value: "on|off", help: "fsync before a replica acknowledges (default: off)" },
  "log-level": { value: "level", help: "fatal, error, warn, info, debug, trace or silent (default: info)" },
};

/** commander's property name for a flag: `data-dir` → `dataDir`. */
export function optionAttribute(name: string): string {
  return name.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

/** Adds `--<name> <value>` for each of `names` to a command. */
export function addNodeOptions(command: Command, names: readonly NodeOptionName[]): Command {
  for (const name of names) {
    const help = NODE_OPTION_HELP[name];
    command.option(`--${name} <${help.value}>`, help.help);
  }
  return command;
}

/** The node options commander collected, as the raw strings parseNodeConfig takes. */
export function collectNodeOptions(
  values: Readonly<Record<string, unknown>>,
  names: readonly NodeOptionName[] = NODE_OPTION_NAMES,
): Partial<Record<NodeOptionName, string>> {
  const raw: Partial<Record<NodeOptionName, string>> = {};
  for (const name of names) {
    const value = values[optionAttribute(name)];
    if (typeof value === "string") raw[name] = value;
  }
  return raw;
}

/**
 * `--rf` is `--replication-factor` by another name. Naming both with different values is a usage
 * error; an invalid `--rf` is reported as `--rf`, the flag the user typed.
 */
export function parseStartConfig(values: Readonly<Record<string, unknown>>, env: Environment) {
  const raw = collectNodeOptions(values);
  const rf = values["rf"];
  let rfUsed = false;
  if (typeof rf === "string") {
    if (raw["replication-factor"] !== undefined && raw["replication-factor"] !== rf) {
      throw new ConfigError("--rf", "--rf and --replication-factor name the same option; give one of them");
    }
    raw["replication-factor"] = rf;
    rfUsed = true;
  }
  try {
    return parseNodeConfig(raw as RawNodeOptions, env);
  } catch (error) {
    if (rfUsed && error instanceof ConfigError && error.option === "--replication-factor") {
      throw new ConfigError("--rf", error.message.replace("--replication-factor", "--rf"));
    }
    throw error;
  }
}

export function registerStartCommand(program: Command, output: CliOutput, setExit: (code: ExitCode) => void): void {
  const command = program
    .command("start")
    .description("run one node in the foreground until SIGINT or SIGTERM");
  addNodeOptions(command, NODE_OPTION_NAMES);
  command.option("--rf <n>", "the same as --replication-factor");
  command.action(async (values: Record<string, unknown>) => {
    const config = parseStartConfig(values, processEnvironment());
    setExit(await runNode(config, output));
  });
}

/** Runs the node until a stop signal; resolves with the exit code. */
async function runNode(config: ReturnType<typeof parseNodeConfig>, output: CliOutput): Promise<ExitCode> {
  let stopRequested: ((reason: string) => void) | null = null;
  const stopSignal = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  let signals = 0;
  let forcedExit: ((code: ExitCode) => void) | null = null;
  const forced = new Promise<ExitCode>((resolve) => {
    forcedExit = resolve;
  });
  const onSignal = (signal: string): void => {
    signals++;
    if (signals === 1) stopRequested?.(signal);
    else forcedExit?.(EXIT_CODES.failed);
  };
  const onSigint = (): void => onSignal("SIGINT");
  const onSigterm = (): void => onSignal("SIGTERM");
  const onDisconnect = (): void => onSignal("disconnect");
  // Installed before the node starts, so a signal during start-up still ends in a clean stop.
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  if (process.channel !== undefined) {
    process.on("disconnect", onDisconnect);
    // The channel must not keep the process alive on its own once the node has stopped.
    process.channel.unref();
  }

  // Loaded here, not at the top: the other commands never pay for the server's modules.
  const { NodeStartError, startNode } = await import("../node/node.js");
  let node: GrapevineNode;
  try {
    node = await startNode(config);
  } catch (error) {
    if (error instanceof NodeStartError) throw new CliError(error.message, EXIT_CODES.failed);
    throw error;
  }

  // A ring change may end the node itself: a decommission (exit 0), a bootstrap that cannot finish (1).
  let requestedCode: ExitCode | null = null;
  const exitRequested = node.exitRequested.then(({ code, reason }) => {
    requestedCode = code === 0 ? EXIT_CODES.ok : EXIT_CODES.failed;
    if (code !== 0) printError(output, reason);
    return reason;
  });
  const reason = await Promise.race([stopSignal, forced.then(() => null), exitRequested]);
  if (reason === null) return EXIT_CODES.failed;
  node.logger.info({ reason }, "shutdown requested");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ExitCode>((resolve) => {
    timer = setTimeout(() => {
      printError(output, `shutdown took longer than ${START_LIMITS.shutdownTimeoutMs} ms; exiting`);
      resolve(EXIT_CODES.failed);
    }, START_LIMITS.shutdownTimeoutMs);
  });
  const stopped = node.stop().then((): ExitCode => requestedCode ?? EXIT_CODES.ok);
  const code = await Promise.race([stopped, forced, timedOut]);
  clearTimeout(timer);
  if (code !== EXIT_CODES.ok && signals > 1) printError(output, "second signal: exiting without a clean shutdown");
  return code;
}
