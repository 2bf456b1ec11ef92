// cli/start.ts — `grapevine start [options]`: one node in the foreground (SPEC §1).
//
// Every node option is a string flag, declared with its help in node/options.ts, handed raw to
// parseNodeConfig together with the environment, so validation, defaults and error wording live in
// one place (node/config.ts). The command then runs the node until SIGINT or SIGTERM and shuts it
// down cleanly (exit 0); a second signal, or a shutdown that outlasts `shutdownTimeoutMs`, forces
// exit 1. When the process has an IPC channel (a child of `grapevine dev`), losing it counts as a
// stop signal, so a killed `dev` leaves no orphan nodes.

import type { Command } from "commander";
import {
  ConfigError,
  NODE_OPTION_NAMES,
  parseNodeConfig,
  processEnvironment,
  type Environment,
  type NodeOptionName,
} from "../node/config.js";
import type { GrapevineNode } from "../node/node.js";
import { declarationOf, helpLine } from "../node/options.js";
import { SHUTDOWN_LIMITS } from "../node/shutdown.js";
import { assert } from "../core/assert.js";
import { CliError, EXIT_CODES, printError, type CliOutput, type ExitCode } from "./shared.js";

export const START_LIMITS = {
  /**
   * A clean shutdown that takes longer than this is abandoned with exit 1 (a stuck request, a hung
   * close).
   */
  shutdownTimeoutMs: 15_000,
} as const;

// The node's own bounds (announcement, linger, then drain) must end before the command gives up on
// it.
assert(
  SHUTDOWN_LIMITS.announceMs + SHUTDOWN_LIMITS.lingerMs + SHUTDOWN_LIMITS.drainMs <
    START_LIMITS.shutdownTimeoutMs,
  "a clean stop's announcement and drain fit within the shutdown timeout",
);

/** commander's property name for a flag: `data-dir` → `dataDir`. */
export function optionAttribute(name: string): string {
  return name.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

/**
 * Adds `--<name> <value>` for each of `names` to a command, with the help its declaration gives.
 */
export function addNodeOptions(command: Command, names: readonly NodeOptionName[]): Command {
  for (const name of names)
    command.option(`--${name} <${declarationOf(name).value}>`, helpLine(name));
  return command;
}

/** Each alias of `names` (`--rf`), with the option it stands for. */
export function nodeOptionAliases(
  names: readonly NodeOptionName[] = NODE_OPTION_NAMES,
): readonly { readonly alias: string; readonly name: NodeOptionName }[] {
  return names.flatMap((name) =>
    (declarationOf(name).aliases ?? []).map((alias) => ({ alias, name })),
  );
}

/** Adds `--<alias> <value>` for the aliases of `names`; after the options, as help lists them. */
export function addNodeOptionAliases(command: Command, names: readonly NodeOptionName[]): Command {
  for (const { alias, name } of nodeOptionAliases(names)) {
    command.option(`--${alias} <${declarationOf(name).value}>`, `the same as --${name}`);
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
 * An alias (`--rf`) is its option (`--replication-factor`) by another name. Naming both with
 * different values is a usage error; an invalid alias is reported as the alias, the flag the user
 * typed.
 */
export function parseStartConfig(values: Readonly<Record<string, unknown>>, env: Environment) {
  const raw = collectNodeOptions(values);
  const aliasesUsed: { readonly alias: string; readonly name: NodeOptionName }[] = [];
  for (const entry of nodeOptionAliases()) {
    const { alias, name } = entry;
    const value = values[optionAttribute(alias)];
    if (typeof value !== "string") continue;
    if (raw[name] !== undefined && raw[name] !== value) {
      throw new ConfigError(
        `--${alias}`,
        `--${alias} and --${name} name the same option; give one of them`,
      );
    }
    raw[name] = value;
    aliasesUsed.push(entry);
  }
  try {
    return parseNodeConfig(raw, env);
  } catch (error) {
    const used =
      error instanceof ConfigError
        ? aliasesUsed.find(({ name }) => error.option === `--${name}`)
        : undefined;
    if (used !== undefined && error instanceof ConfigError) {
      throw new ConfigError(
        `--${used.alias}`,
        error.message.replace(`--${used.name}`, `--${used.alias}`),
      );
    }
    throw error;
  }
}

export function registerStartCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const command = program
    .command("start")
    .description("run one node in the foreground until SIGINT or SIGTERM");
  addNodeOptions(command, NODE_OPTION_NAMES);
  addNodeOptionAliases(command, NODE_OPTION_NAMES);
  command.action(async (values: Record<string, unknown>) => {
    const config = parseStartConfig(values, processEnvironment());
    setExit(await runNode(config, output));
  });
}

/** Runs the node until a stop signal; resolves with the exit code. */
async function runNode(
  config: ReturnType<typeof parseNodeConfig>,
  output: CliOutput,
): Promise<ExitCode> {
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

  // Rotation (issue 18 §2): SIGHUP reloads the certs dir. Only with one: without, SIGHUP keeps its
  // default meaning.
  const onSighup = (): void => void node.reloadTls();
  if (config.certsDir !== null) process.on("SIGHUP", onSighup);

  // A ring change may end the node itself: a decommission (exit 0), a bootstrap that cannot finish
  // (1).
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
  if (code !== EXIT_CODES.ok && signals > 1)
    printError(output, "second signal: exiting without a clean shutdown");
  return code;
}
