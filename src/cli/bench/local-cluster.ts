// cli/bench/local-cluster.ts — the cluster `grapevine bench --local N` starts for itself: N
// `grapevine start` children laid out exactly as `grapevine dev` lays them out (planDevCluster),
// with their data and logs in one temp dir that is removed when they stop.
//
// Like dev, each child gets its own process group and an IPC channel: a Ctrl-C reaches only the
// bench, which stops the nodes in order, and if the bench dies the nodes see the channel close and
// shut down. Unlike dev, a child's output goes straight to a log file (a descriptor, not a pipe
// through the bench), so the bench spends no CPU forwarding node logs while it measures. The
// cluster counts as ready only when every node answers /health and sees all N members live and
// normal, so the first writes do not meet a half-formed ring.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import type { Environment } from "../../node/config.js";
import { DEV_LIMITS, grapevineBinPath, planDevCluster, type DevNodePlan } from "../dev.js";
import { CliError, oneLine } from "../shared.js";

export const LOCAL_CLUSTER_LIMITS = {
  /**
   * From spawn until every node sees every other live; a 3-node ring forms in a few gossip rounds.
   */
  readyTimeoutMs: 60_000,
  readyPollIntervalMs: 200,
  probeTimeoutMs: 1_000,
  stopTimeoutMs: DEV_LIMITS.stopTimeoutMs,
  killWaitMs: DEV_LIMITS.killWaitMs,
  /** Free ports are looked for in [low, high): below Linux's ephemeral range (32768+). */
  freePortLow: 20_000,
  freePortHigh: 32_000,
  freePortAttemptsMax: 200,
} as const;

export interface LocalClusterOptions {
  readonly nodeCount: number;
  /** null: a free range of consecutive ports is found. */
  readonly basePort: number | null;
  /** Node options for every node, commander-style camelCase keys (`logLevel`, `rf`). */
  readonly nodeValues: Readonly<Record<string, string>>;
  readonly env: Environment;
  /** Aborting gives up waiting for the cluster to form (the nodes are stopped). */
  readonly signal?: AbortSignal;
}

export interface LocalCluster {
  readonly urls: readonly string[];
  readonly dir: string;
  readonly pids: readonly number[];
  /**
   * Stops every node (SIGTERM, then SIGKILL) and removes the temp dir; true when all stopped
   * cleanly.
   */
  stop(): Promise<boolean>;
}

interface LocalNode {
  readonly plan: DevNodePlan;
  readonly logFile: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  done: boolean;
  exitCode: number | null;
}

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

/** The first of `count` consecutive ports that are free now (each checked by binding it). */
export async function findFreePortRange(count: number): Promise<number> {
  const { freePortLow: low, freePortHigh: high } = LOCAL_CLUSTER_LIMITS;
  for (let attempt = 0; attempt < LOCAL_CLUSTER_LIMITS.freePortAttemptsMax; attempt++) {
    // Random, not sequential: two benches started together should not race for the same range.
    const base = low + Math.floor(Math.random() * (high - low - count));
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await tryBind(port);
    if (free) return base;
  }
  throw new CliError(
    `no ${count} consecutive free ports found between ${low} and ${high}; give --base-port`,
  );
}

function lastLogLine(file: string): string {
  try {
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    return oneLine(lines[lines.length - 1] ?? "").slice(0, 300);
  } catch {
    return "(no log)";
  }
}

async function clusterReady(agent: Agent, url: string, nodeCount: number): Promise<boolean> {
  try {
    const response = await request(`${url}/cluster/status`, {
      dispatcher: agent,
      signal: AbortSignal.timeout(LOCAL_CLUSTER_LIMITS.probeTimeoutMs),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return false;
    }
    const body = (await response.body.json()) as { members?: unknown; serving?: unknown };
    // A node that has not yet learned the ring refuses client requests (503, reason starting).
    if (!Array.isArray(body.members) || body.serving === false) return false;
    const ready = body.members.filter((member: unknown) => {
      const m = member as { live?: unknown; state?: unknown };
      return m.live === true && m.state === "normal";
    });
    return ready.length >= nodeCount;
  } catch {
    return false;
  }
}

async function stopNodes(nodes: readonly LocalNode[]): Promise<boolean> {
  const running = nodes.filter((node) => !node.done);
  for (const node of running) {
    try {
      node.process.kill("SIGTERM");
    } catch {
      // Already gone: its exit is on the way.
    }
  }
  const waitAll = (ms: number): Promise<boolean> =>
    Promise.race([
      Promise.all(running.map((node) => node.exited)).then(() => true),
      sleep(ms).then(() => false),
    ]);
  let clean = await waitAll(LOCAL_CLUSTER_LIMITS.stopTimeoutMs);
  if (!clean) {
    for (const node of running.filter((candidate) => !candidate.done)) {
      try {
        node.process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await waitAll(LOCAL_CLUSTER_LIMITS.killWaitMs);
  }
  for (const node of running) if (node.exitCode !== 0) clean = false;
  return clean;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-bench-"));
  const nodes: LocalNode[] = [];
  let stopped: Promise<boolean> | null = null;
  const stop = (): Promise<boolean> => {
    stopped ??= stopNodes(nodes).finally(() => rmSync(dir, { recursive: true, force: true }));
    return stopped;
  };
  try {
    const basePort = options.basePort ?? (await findFreePortRange(options.nodeCount));
    const plans = planDevCluster(
      {
        ...options.nodeValues,
        nodes: String(options.nodeCount),
        basePort: String(basePort),
        dataDir: dir,
      },
      options.env,
    );
    const bin = grapevineBinPath();
    for (const plan of plans) nodes.push(spawnNode(bin, plan, dir));
    await waitUntilFormed(nodes, options);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    urls: nodes.map((node) => node.plan.url),
    dir,
    pids: nodes.map((node) => node.process.pid ?? -1),
    stop,
  };
}

/**
 * Starts one `grapevine start` child in its own process group, its output appended to
 * `<dir>/<id>.log`.
 */
function spawnNode(bin: string, plan: DevNodePlan, dir: string): LocalNode {
  const logFile = path.join(dir, `${plan.id}.log`);
  const log = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [bin, ...plan.args], {
      detached: true,
      stdio: ["ignore", log, log, "ipc"],
    });
  } finally {
    closeSync(log);
  }
  const node: LocalNode = {
    plan,
    logFile,
    process: child,
    done: false,
    exitCode: null,
    exited: new Promise<void>((resolve) => {
      child.once("exit", (code) => {
        node.done = true;
        node.exitCode = code;
        resolve();
      });
      child.once("error", () => {
        node.done = true;
        resolve();
      });
    }),
  };
  return node;
}

/**
 * Polls until every node sees all of them live and normal; fails on a node's exit, the signal or
 * the deadline.
 */
async function waitUntilFormed(
  nodes: readonly LocalNode[],
  options: LocalClusterOptions,
): Promise<void> {
  const agent = new Agent({ connect: { timeout: LOCAL_CLUSTER_LIMITS.probeTimeoutMs } });
  try {
    const deadline = Date.now() + LOCAL_CLUSTER_LIMITS.readyTimeoutMs;
    for (;;) {
      if (options.signal?.aborted === true)
        throw new CliError("interrupted while the local cluster was starting");
      const dead = nodes.find((node) => node.done);
      if (dead !== undefined) {
        throw new CliError(
          `${dead.plan.id} exited while starting (code ${dead.exitCode ?? "?"}): ${lastLogLine(dead.logFile)}`,
        );
      }
      const ready = await Promise.all(
        nodes.map((node) => clusterReady(agent, node.plan.url, options.nodeCount)),
      );
      if (ready.every(Boolean)) return;
      if (Date.now() >= deadline) {
        throw new CliError(
          `the local cluster did not form within ${LOCAL_CLUSTER_LIMITS.readyTimeoutMs} ms (every node answering /cluster/status with ${options.nodeCount} live members)`,
        );
      }
      await sleep(LOCAL_CLUSTER_LIMITS.readyPollIntervalMs);
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
}
