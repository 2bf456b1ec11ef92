// Real `node bin/grapevine.js start …` processes on 127.0.0.1 for cluster tests.
//
// Each cluster gets one temp dir (mkdtemp under os.tmpdir()) holding every node's data dir and log
// file; a node's stdout and stderr go straight to its log file (an fd, not a pipe through the test
// process), so a paused test runner never blocks a node. Nodes are driven by PID: SIGKILL, SIGSTOP,
// SIGCONT, and restart on the same port and data dir. cleanup() kills every process it started and
// removes the dir, and runs in afterAll even when a test fails; a process.on("exit") backstop
// SIGKILLs anything left if the worker dies first. Set GRAPEVINE_KEEP_TEST_DIRS=1 to keep the dir.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeEach } from "vitest";
import { fetchJson, httpRequest } from "./http.js";
import { freePort } from "./ports.js";
import { waitFor } from "./wait-for.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const GRAPEVINE_BIN = path.join(REPO_ROOT, "bin", "grapevine.js");

/** How long a node may take from spawn to answering /health. */
export const NODE_START_TIMEOUT_MS = 20_000;
/** How long a signalled process may take to be reported gone. */
export const PROCESS_EXIT_TIMEOUT_MS = 15_000;

export interface NodeSpec {
  readonly id: string;
  /** A free port is found when left out. */
  readonly port?: number;
  readonly seeds?: readonly string[];
  /** More `grapevine start` flags, e.g. ["--cluster-secret", "s3cret"]. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The address the node listens on and is reached at; default 127.0.0.1 (test/faults: a
   * namespace's address).
   */
  readonly host?: string;
  /**
   * Run the node under this command, e.g. ["ip", "netns", "exec", "ns1"] (which execs, so the PID
   * is the node's).
   */
  readonly commandPrefix?: readonly string[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  /** `127.0.0.1:<port>`, what seeds name. */
  readonly address: string;
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number;
  /** True until the process has exited. */
  readonly running: boolean;
  /** Resolves when this incarnation of the process exits. */
  readonly exited: Promise<ExitStatus>;
}

interface NodeEntry {
  spec: NodeSpec & { port: number };
  process: ChildProcess;
  exited: Promise<ExitStatus>;
  running: boolean;
  paused: boolean;
}

/**
 * Every process any cluster in this worker started and has not seen exit: the exit backstop's list.
 */
const livePids = new Set<number>();
process.once("exit", () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

export class ProcessCluster {
  readonly dir: string;
  readonly #nodes = new Map<string, NodeEntry>();
  #cleanedUp = false;

  constructor(name: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `grapevine-${name}-`));
  }

  /**
   * Spawns a node; resolves once it answers /health and serves client requests, or at once with
   * `waitServing: false` (a test that watches it start).
   */
  async start(
    spec: NodeSpec,
    options: { readonly waitServing?: boolean } = {},
  ): Promise<ClusterNode> {
    if (this.#nodes.get(spec.id)?.running) throw new Error(`${spec.id} is already running`);
    const port = spec.port ?? this.#nodes.get(spec.id)?.spec.port ?? (await freePort());
    const full = { ...spec, port };
    this.#spawn(full);
    if (options.waitServing !== false) await this.waitServing(spec.id);
    return this.node(spec.id);
  }

  /** Starts several nodes at once; resolves when all serve. */
  async startAll(specs: readonly NodeSpec[]): Promise<ClusterNode[]> {
    return Promise.all(specs.map((spec) => this.start(spec)));
  }

  /** Starts the node again with the same spec: same id, port, data dir and log file. */
  async restart(
    id: string,
    options: { readonly waitServing?: boolean } = {},
  ): Promise<ClusterNode> {
    const entry = this.#entry(id);
    if (entry.running) throw new Error(`${id} is still running; kill it first`);
    return this.start(entry.spec, options);
  }

  node(id: string): ClusterNode {
    const entry = this.#entry(id);
    const { spec } = entry;
    return {
      id: spec.id,
      port: spec.port,
      address: `${spec.host ?? "127.0.0.1"}:${spec.port}`,
      url: `http://${spec.host ?? "127.0.0.1"}:${spec.port}`,
      dataDir: this.dataDir(id),
      logFile: this.logFile(id),
      pid: entry.process.pid ?? -1,
      running: entry.running,
      exited: entry.exited,
    };
  }

  nodes(): ClusterNode[] {
    return [...this.#nodes.keys()].map((id) => this.node(id));
  }

  /** Nodes whose process is running (paused ones included). */
  runningNodes(): ClusterNode[] {
    return this.nodes().filter((node) => node.running);
  }

  dataDir(id: string): string {
    return path.join(this.dir, id, "data");
  }

  logFile(id: string): string {
    return path.join(this.dir, `${id}.log`);
  }

  async waitServing(id: string, timeoutMs = NODE_START_TIMEOUT_MS): Promise<void> {
    const entry = this.#entry(id);
    await waitFor(
      async () => {
        if (!entry.running)
          throw new Error(`${id} exited; see ${this.logFile(id)}:\n${this.tail(id, 10)}`);
        const base = `http://${entry.spec.host ?? "127.0.0.1"}:${entry.spec.port}`;
        const answer = await httpRequest(`${base}/health`, { timeoutMs: 1_000 });
        if (answer.status !== 200) return false;
        // A started node answers client requests once it has learned the ring
        // (cluster/ring-settle.ts).
        const status = await httpRequest(`${base}/cluster/status`, { timeoutMs: 1_000 });
        return (
          status.status === 200 &&
          (JSON.parse(status.text) as { serving?: boolean }).serving !== false
        );
      },
      { timeoutMs, intervalMs: 100, what: `${id} to answer /health and serve client requests` },
    );
  }

  /** Sends `signal` to the node's PID; with SIGKILL/SIGTERM/SIGINT, resolves once it has exited. */
  async signal(id: string, signal: NodeJS.Signals): Promise<ExitStatus | null> {
    const entry = this.#entry(id);
    if (!entry.running) throw new Error(`${id} is not running`);
    const pid = entry.process.pid;
    if (pid === undefined) throw new Error(`${id} has no pid`);
    process.kill(pid, signal);
    if (signal === "SIGSTOP") entry.paused = true;
    if (signal === "SIGCONT") entry.paused = false;
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT") {
      return this.#awaitExit(entry);
    }
    return null;
  }

  kill(id: string): Promise<ExitStatus | null> {
    return this.signal(id, "SIGKILL");
  }

  async pause(id: string): Promise<void> {
    await this.signal(id, "SIGSTOP");
  }

  async resume(id: string): Promise<void> {
    await this.signal(id, "SIGCONT");
  }

  /** GET a JSON document from a node. */
  getJson<T>(id: string, urlPath: string): Promise<T> {
    return fetchJson<T>(`${this.node(id).url}${urlPath}`);
  }

  /** The last `lines` lines of a node's log. */
  tail(id: string, lines = 30): string {
    try {
      return readFileSync(this.logFile(id), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Every log's path and tail, for a failed test's output. */
  describeLogs(lines = 30): string {
    const parts = [`cluster dir: ${this.dir}`];
    for (const id of this.#nodes.keys()) {
      parts.push(`--- ${id}: ${this.logFile(id)} (last ${lines} lines)`, this.tail(id, lines));
    }
    return parts.join("\n");
  }

  /**
   * Kills every process this cluster started and removes its dir (unless
   * GRAPEVINE_KEEP_TEST_DIRS=1).
   */
  async cleanup(): Promise<void> {
    if (this.#cleanedUp) return;
    this.#cleanedUp = true;
    const running = [...this.#nodes.values()].filter((entry) => entry.running);
    for (const entry of running) {
      const pid = entry.process.pid;
      if (pid === undefined) continue;
      try {
        // A stopped process dies of SIGKILL too, but CONT first keeps its exit report prompt.
        if (entry.paused) process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(running.map((entry) => this.#awaitExit(entry).catch(() => undefined)));
    if (process.env["GRAPEVINE_KEEP_TEST_DIRS"] === "1") {
      console.log(`kept ${this.dir}`);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  #entry(id: string): NodeEntry {
    const entry = this.#nodes.get(id);
    if (entry === undefined) throw new Error(`no node ${id} in this cluster`);
    return entry;
  }

  #spawn(spec: NodeSpec & { port: number }): void {
    if (this.#cleanedUp) throw new Error("the cluster was cleaned up");
    const args = [
      GRAPEVINE_BIN,
      "start",
      "--id",
      spec.id,
      "--listen",
      `${spec.host ?? "127.0.0.1"}:${spec.port}`,
      "--data-dir",
      this.dataDir(spec.id),
      ...(spec.seeds !== undefined && spec.seeds.length > 0
        ? ["--seeds", spec.seeds.join(",")]
        : []),
      ...(spec.args ?? []),
    ];
    const log = openSync(this.logFile(spec.id), "a");
    let child: ChildProcess;
    try {
      const [command, ...prefixArgs] = [...(spec.commandPrefix ?? []), process.execPath];
      child = spawn(command, [...prefixArgs, ...args], {
        cwd: REPO_ROOT,
        env: { ...withoutGrapevineVariables(process.env), ...spec.env },
        stdio: ["ignore", log, log],
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(log);
    }
    const pid = child.pid;
    if (pid !== undefined) livePids.add(pid);
    const entry: NodeEntry = {
      spec,
      process: child,
      running: true,
      paused: false,
      exited: new Promise<ExitStatus>((resolve) => {
        child.once("exit", (code, signal) => {
          entry.running = false;
          if (pid !== undefined) livePids.delete(pid);
          resolve({ code, signal });
        });
        child.once("error", () => {
          entry.running = false;
          resolve({ code: null, signal: null });
        });
      }),
    };
    this.#nodes.set(spec.id, entry);
  }

  async #awaitExit(entry: NodeEntry): Promise<ExitStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${entry.spec.id} did not exit within ${PROCESS_EXIT_TIMEOUT_MS} ms`)),
        PROCESS_EXIT_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([entry.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The test runner's own GRAPEVINE_* variables must not leak into the nodes it starts. */
export function withoutGrapevineVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("GRAPEVINE_")));
}

/**
 * A cluster for one test file: a failing test prints every node's log path and tail, and afterAll
 * removes every process and the temp dir whatever happened.
 */
export function useProcessCluster(name: string): ProcessCluster {
  const cluster = new ProcessCluster(name);
  beforeEach((context) => {
    context.onTestFailed(() => {
      console.error(`\n${context.task.name} failed; node logs:\n${cluster.describeLogs()}`);
    });
  });
  afterAll(async () => {
    await cluster.cleanup();
  });
  return cluster;
}

/**
 * True while a process with this PID exists and is not a zombie (signal 0 probes without
 * signalling; an orphan that exited may wait unreaped when PID 1 is not a real init).
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `grapevine <args>` to completion (SIGKILLed after `timeoutMs`) and returns its output. */
export function runGrapevine(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GRAPEVINE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...withoutGrapevineVariables(process.env), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 15_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
