// cli/dev.ts — `grapevine dev [--nodes 3] [--base-port 7001] [--data-dir ./data]`: a local cluster
// of N nodes on 127.0.0.1, each a child process running `grapevine start` (SPEC §1).
//
// Node i listens on base-port + i − 1 and seeds from node 1. Each child is started in its own
// process group with an IPC channel: a Ctrl-C at the terminal reaches only `dev`, which stops the
// children in order (SIGTERM, then SIGKILL after `stopTimeoutMs`), and if `dev` itself dies the
// children see the channel close and shut down cleanly, so nothing is left orphaned. Children's log
// lines are forwarded with their id as a prefix. Once a node is ready (its /ready answers 200: it
// has learned the ring and serves clients, which /health alone does not say), one line names it:
// `node1 http://127.0.0.1:7001 pid 12345`; a URL printed is one a client can use at once. A node
// that exits first is reported by its exit; one that is still not ready at the deadline is named
// with its last answer, and dev stops them all. Node options other than the ones dev sets (id,
// listen, advertise, seeds, data dir) may be given to dev and are passed to every child.

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { Agent, request } from "undici";
import {
  NODE_OPTION_NAMES,
  processEnvironment,
  type Environment,
  type NodeOptionName,
} from "../node/config.js";
import { resolveLogFormat } from "../node/logger.js";
import {
  CliError,
  EXIT_CODES,
  isTerminal,
  parseIntegerFlag,
  printError,
  type CliOutput,
  type ExitCode,
} from "./shared.js";
import { declarationOf, optionKey } from "../node/options.js";
import {
  addNodeOptionAliases,
  addNodeOptions,
  collectNodeOptions,
  nodeOptionAliases,
  optionAttribute,
  parseStartConfig,
} from "./start.js";

export const DEV_LIMITS = {
  nodesMin: 1,
  /** Past this a laptop runs out of cores before the cluster is interesting; use real hosts. */
  nodesMax: 64,
  /**
   * How long a child may take to become ready before dev gives up and stops them all: start-up,
   * plus up to 15 s of waiting for the peers a restarted node knew (cluster/ring-settle.ts), with
   * room.
   */
  readyTimeoutMs: 60_000,
  readyPollIntervalMs: 200,
  /** One /ready probe; a node that cannot answer this fast is not up yet. */
  readyRequestTimeoutMs: 1_000,
  /** After SIGTERM, a child gets this long for its clean shutdown before SIGKILL. */
  stopTimeoutMs: 10_000,
  /** After SIGKILL, how long to wait for the exit to be reported before giving up on a child. */
  killWaitMs: 5_000,
} as const;

export const DEV_DEFAULTS = {
  nodes: 3,
  basePort: 7001,
  dataDir: "./data",
} as const;

/** Options dev decides for each child itself; every other node option passes through. */
const DEV_OWNED_OPTIONS: readonly NodeOptionName[] = [
  "id",
  "listen",
  "advertise",
  "seeds",
  "data-dir",
  // Each node needs its own node certificate; dev does not make them (yet): plain HTTP.
  "certs-dir",
];
export const DEV_PASS_THROUGH_OPTIONS: readonly NodeOptionName[] = NODE_OPTION_NAMES.filter(
  (name) => !DEV_OWNED_OPTIONS.includes(name),
);

export interface DevNodePlan {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  /** Arguments after `bin/grapevine.js`. */
  readonly args: readonly string[];
  /**
   * The child's stdout is dev's pipe, not a terminal: pretty lines keep their colours only if told.
   */
  readonly forceColour: boolean;
}

/**
 * Validates dev's flags and every child's node options (so a bad option is a usage error before
 * anything starts) and lays out the children.
 */
export function planDevCluster(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
  stdoutIsTerminal = false,
): DevNodePlan[] {
  const nodes = parseIntegerFlag(
    "--nodes",
    typeof values["nodes"] === "string" ? values["nodes"] : String(DEV_DEFAULTS.nodes),
    DEV_LIMITS.nodesMin,
    DEV_LIMITS.nodesMax,
  );
  const basePort = parseIntegerFlag(
    "--base-port",
    typeof values["basePort"] === "string" ? values["basePort"] : String(DEV_DEFAULTS.basePort),
    1,
    65_536 - nodes,
  );
  const dataDirText =
    typeof values["dataDir"] === "string" ? values["dataDir"] : DEV_DEFAULTS.dataDir;
  if (dataDirText.trim() === "")
    throw new CliError("--data-dir must be a directory", EXIT_CODES.usage);
  const dataDir = path.resolve(dataDirText.trim());

  const passThrough = collectNodeOptions(values, DEV_PASS_THROUGH_OPTIONS);
  // Aliases (`--rf`) given to dev, as commander's values.
  const aliases = nodeOptionAliases(DEV_PASS_THROUGH_OPTIONS).filter(
    ({ alias }) => typeof values[optionAttribute(alias)] === "string",
  );
  const aliasValues = Object.fromEntries(
    aliases.map(({ alias }) => [optionAttribute(alias), values[optionAttribute(alias)]]),
  );
  const seed = `127.0.0.1:${basePort}`;
  const plans: DevNodePlan[] = [];
  for (let i = 1; i <= nodes; i++) {
    const id = `node${i}`;
    const port = basePort + i - 1;
    const nodeDir = path.join(dataDir, id);
    const owned = { id, listen: `127.0.0.1:${port}`, seeds: seed, "data-dir": nodeDir };
    // The child parses the same flags; parsing here first turns a typo into one usage error, not N
    // crashes.
    const config = parseStartConfig(
      {
        ...Object.fromEntries(
          Object.entries(passThrough).map(([name, value]) => [optionAttribute(name), value]),
        ),
        ...Object.fromEntries(
          Object.entries(owned).map(([name, value]) => [optionAttribute(name), value]),
        ),
        ...aliasValues,
      },
      env,
    );
    // The children's stdout is a pipe to dev: `auto` is decided by dev's own stdout, which is
    // where their lines end up.
    const logFormat = resolveLogFormat(config.logFormat, stdoutIsTerminal);
    const args = ["start"];
    const given = { ...owned, ...passThrough, "log-format": logFormat };
    for (const [name, value] of Object.entries(given)) args.push(`--${name}`, value);
    // The children get the option under its own name, as this parse understood it.
    for (const { name } of aliases) {
      if (passThrough[name] !== undefined) continue;
      const text = declarationOf(name).kind.format(config[optionKey(name)]);
      if (text !== null) args.push(`--${name}`, text);
    }
    const forceColour = logFormat === "pretty" && stdoutIsTerminal;
    plans.push({ id, port, url: `http://127.0.0.1:${port}`, dataDir: nodeDir, args, forceColour });
  }
  return plans;
}

/** bin/grapevine.js, found from this file's place in dist/cli/. */
export function grapevineBinPath(): string {
  return fileURLToPath(new URL("../../bin/grapevine.js", import.meta.url));
}

interface DevChild {
  readonly plan: DevNodePlan;
  readonly process: ChildProcess;
  /** Resolves with the exit description once the child has exited. */
  readonly exited: Promise<string>;
  exitCode: number | null;
  done: boolean;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? "?"}`;
}

function forwardLines(
  stream: NodeJS.ReadableStream | null,
  prefix: string,
  write: (text: string) => void,
): void {
  if (stream === null) return;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on("line", (line) => write(`${prefix}${line}\n`));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What one /ready probe found: ready, or what it answered instead (for the message if it never is).
 */
async function probeReady(agent: Agent, url: string): Promise<{ ready: boolean; answer: string }> {
  try {
    const response = await request(`${url}/ready`, {
      dispatcher: agent,
      signal: AbortSignal.timeout(DEV_LIMITS.readyRequestTimeoutMs),
    });
    if (response.statusCode === 200) {
      await response.body.dump();
      return { ready: true, answer: "200" };
    }
    const text = await response.body.text();
    let reason = "";
    try {
      const body = JSON.parse(text) as { reason?: unknown };
      if (typeof body.reason === "string") reason = ` ${body.reason}`;
    } catch {
      // Not our JSON: the status says enough.
    }
    return { ready: false, answer: `${response.statusCode}${reason}` };
  } catch {
    return { ready: false, answer: "no answer" };
  }
}

function signalChild(child: DevChild, signal: NodeJS.Signals): void {
  if (child.done) return;
  try {
    child.process.kill(signal);
  } catch {
    // Already gone: its exit event is on the way.
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runDev(plans: readonly DevNodePlan[], output: CliOutput): Promise<ExitCode> {
  const bin = grapevineBinPath();
  let stopping = false;
  let children: DevChild[] = [];
  const signals = handleStopSignals(() => children);
  children = plans.map((plan) => spawnChild(bin, plan, output, () => stopping));

  const agent = new Agent({ connect: { timeout: DEV_LIMITS.readyRequestTimeoutMs } });
  let exitCode: ExitCode = EXIT_CODES.ok;
  try {
    const ready = await Promise.race([
      Promise.all(
        children.map((child) => waitUntilReady(child, agent, output, () => stopping)),
      ).then((all) => all.every(Boolean)),
      signals.stopRequested.then(() => false),
    ]);
    if (ready) {
      const allExited = Promise.all(children.map((child) => child.exited)).then(
        () => "all nodes exited",
      );
      const reason = await Promise.race([signals.stopRequested, allExited]);
      if (reason === "all nodes exited") exitCode = EXIT_CODES.failed;
    } else if (signals.count() === 0) {
      exitCode = EXIT_CODES.failed;
    }
  } finally {
    stopping = true;
    await agent.close().catch(() => undefined);
    const clean = await stopChildren(children, output);
    if (!clean) exitCode = EXIT_CODES.failed;
    signals.remove();
  }
  return exitCode;
}

interface StopSignals {
  /** Resolves with the name of the first signal. */
  readonly stopRequested: Promise<string>;
  /** How many signals have arrived. */
  count(): number;
  /** Takes the handlers off again. */
  remove(): void;
}

/**
 * dev's own SIGINT, SIGTERM and SIGHUP: the first asks for an orderly stop, a second kills every
 * child.
 */
function handleStopSignals(children: () => readonly DevChild[]): StopSignals {
  let requestStop: (reason: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      requestStop(signal);
      return;
    }
    // A second Ctrl-C: no more waiting.
    for (const child of children()) signalChild(child, "SIGKILL");
  };
  const onSigint = (): void => onSignal("SIGINT");
  const onSigterm = (): void => onSignal("SIGTERM");
  const onSighup = (): void => onSignal("SIGHUP");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  process.on("SIGHUP", onSighup);
  return {
    stopRequested,
    count: () => signals,
    remove: () => {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.off("SIGHUP", onSighup);
    },
  };
}

/**
 * Starts one child in its own process group, forwards its log lines, and reports its exit unless
 * dev is stopping.
 */
function spawnChild(
  bin: string,
  plan: DevNodePlan,
  output: CliOutput,
  stopping: () => boolean,
): DevChild {
  const child = spawn(process.execPath, [bin, ...plan.args], {
    // Its own process group: the terminal's Ctrl-C goes to dev only, which stops the children in
    // order.
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    // pino-pretty's colour test honours FORCE_COLOR (and NO_COLOR, which still wins).
    env: plan.forceColour ? { ...process.env, FORCE_COLOR: "1" } : process.env,
  });
  const entry: DevChild = {
    plan,
    process: child,
    exitCode: null,
    done: false,
    exited: new Promise<string>((resolve) => {
      // "close", not "exit": the child's last log lines are still in its pipes when it exits.
      child.once("close", (code, signal) => {
        entry.done = true;
        entry.exitCode = code;
        const description = describeExit(code, signal);
        if (!stopping()) printError(output, `${plan.id} ${description}`);
        resolve(description);
      });
      child.once("error", (error) => {
        entry.done = true;
        printError(output, `${plan.id} could not be started: ${error.message}`);
        resolve("could not be started");
      });
    }),
  };
  forwardLines(child.stdout, `${plan.id} | `, (text) => output.out(text));
  forwardLines(child.stderr, `${plan.id} | `, (text) => output.err(text));
  return entry;
}

/** Polls /ready until the child is ready (prints its line), exits, or the deadline passes. */
async function waitUntilReady(
  child: DevChild,
  agent: Agent,
  output: CliOutput,
  stopping: () => boolean,
): Promise<boolean> {
  const deadline = Date.now() + DEV_LIMITS.readyTimeoutMs;
  while (!child.done && !stopping()) {
    const probe = await probeReady(agent, child.plan.url);
    // An exit while the probe was out is reported by the exit handler; no URL for a node that is
    // gone. The exit handler sets child.done during the await.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (probe.ready && !child.done) {
      output.out(`${child.plan.id} ${child.plan.url} pid ${child.process.pid ?? "?"}\n`);
      return true;
    }
    if (Date.now() >= deadline) {
      printError(
        output,
        `${child.plan.id} was not ready within ${DEV_LIMITS.readyTimeoutMs} ms (${child.plan.url}/ready: ${probe.answer})`,
      );
      return false;
    }
    await delay(DEV_LIMITS.readyPollIntervalMs);
  }
  return false;
}

/**
 * SIGTERM every child still running, SIGKILL the ones that outlast the timeout; true when all
 * stopped cleanly.
 */
async function stopChildren(children: readonly DevChild[], output: CliOutput): Promise<boolean> {
  const running = children.filter((child) => !child.done);
  for (const child of running) signalChild(child, "SIGTERM");
  let clean = true;
  const outcome = await withTimeout(
    Promise.all(running.map((child) => child.exited)),
    DEV_LIMITS.stopTimeoutMs,
  );
  if (outcome === "timeout") {
    clean = false;
    const stuck = running.filter((child) => !child.done);
    printError(
      output,
      `${stuck.map((child) => child.plan.id).join(", ")} did not stop within ${DEV_LIMITS.stopTimeoutMs} ms; killing`,
    );
    for (const child of stuck) signalChild(child, "SIGKILL");
    await withTimeout(Promise.all(stuck.map((child) => child.exited)), DEV_LIMITS.killWaitMs);
  }
  for (const child of running) {
    if (child.done && child.exitCode !== 0) clean = false;
  }
  return clean;
}

export function registerDevCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const command = program
    .command("dev")
    .description(
      "run a local cluster of N nodes on 127.0.0.1 as child processes; Ctrl-C stops them all",
    )
    .option(
      "--nodes <n>",
      `how many nodes, ${DEV_LIMITS.nodesMin} to ${DEV_LIMITS.nodesMax} (default: ${DEV_DEFAULTS.nodes})`,
    )
    .option(
      "--base-port <port>",
      `node i listens on base-port + i - 1 (default: ${DEV_DEFAULTS.basePort})`,
    )
    .option(
      "--data-dir <dir>",
      `each node's data goes to <dir>/node<i> (default: ${DEV_DEFAULTS.dataDir})`,
    );
  addNodeOptions(command, DEV_PASS_THROUGH_OPTIONS);
  addNodeOptionAliases(command, DEV_PASS_THROUGH_OPTIONS);
  command.addHelpText("after", "\nThe node options are passed to every node.\n");
  command.action(async (values: Record<string, unknown>) => {
    const plans = planDevCluster(values, processEnvironment(), isTerminal(process.stdout));
    setExit(await runDev(plans, output));
  });
}
