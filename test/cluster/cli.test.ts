// The `grapevine` executable as a user runs it: exit codes, one-line errors, status, dev, signals.

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ClusterStatusBody } from "../../src/api/cluster-routes.js";
import { fetchJson, httpRequest } from "../support/http.js";
import { freePort, freePortRange } from "../support/ports.js";
import {
  GRAPEVINE_BIN,
  pidAlive,
  REPO_ROOT,
  runGrapevine,
  useProcessCluster,
  withoutGrapevineVariables,
} from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("cli");
/** How long a signalled process may take to exit and still count as prompt. */
const PROMPT_EXIT_MS = 5_000;
const DEV_START_TIMEOUT_MS = 30_000;
const DEV_STOP_TIMEOUT_MS = 20_000;

function stderrLines(text: string): string[] {
  return text.split("\n").filter((line) => line.length > 0);
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("grapevine usage errors", () => {
  it("start --vnodes 0 exits 2 with one stderr line naming --vnodes", async () => {
    const result = await runGrapevine([
      "start",
      "--vnodes",
      "0",
      "--data-dir",
      path.join(cluster.dir, "never"),
    ]);
    expect(result.code).toBe(2);
    expect(stderrLines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain("--vnodes");
    expect(result.stdout).toBe("");
  });

  it("names GRAPEVINE_VNODES when the environment variable is the invalid one", async () => {
    const result = await runGrapevine(["start", "--data-dir", path.join(cluster.dir, "never")], {
      env: { GRAPEVINE_VNODES: "0" },
    });
    expect(result.code).toBe(2);
    expect(stderrLines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain("GRAPEVINE_VNODES");
  });

  it("exits 2 with one line on an unknown flag or command", async () => {
    const flag = await runGrapevine(["start", "--no-such-flag"]);
    expect(flag.code).toBe(2);
    expect(stderrLines(flag.stderr)).toHaveLength(1);
    expect(flag.stderr).toContain("--no-such-flag");
    const command = await runGrapevine(["frobnicate"]);
    expect(command.code).toBe(2);
    expect(stderrLines(command.stderr)).toHaveLength(1);
  });

  it("repair --range exits 2 with one line on a range that is not start:end tokens", async () => {
    for (const range of ["x", "00:11", "0000000000000000-0000000000000001"]) {
      const result = await runGrapevine(["repair", "--range", range]);
      expect(result.code, range).toBe(2);
      expect(stderrLines(result.stderr), range).toHaveLength(1);
      expect(result.stderr).toContain("--range takes start:end");
    }
  });

  it("prints --help for every command and exits 0", async () => {
    for (const name of ["start", "dev", "status"]) {
      const result = await runGrapevine([name, "--help"]);
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toContain(`Usage: grapevine ${name}`);
    }
    const start = await runGrapevine(["start", "--help"]);
    for (const flag of [
      "--listen",
      "--seeds",
      "--data-dir",
      "--replication-factor",
      "--rf",
      "--cluster-secret",
      "--log-level",
    ]) {
      expect(start.stdout).toContain(flag);
    }
  });

  it("validates dev's --nodes and --base-port before starting anything", async () => {
    for (const args of [
      ["--nodes", "0"],
      ["--nodes", "65"],
      ["--base-port", "65535"],
    ]) {
      const result = await runGrapevine(["dev", ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(stderrLines(result.stderr), args.join(" ")).toHaveLength(1);
      expect(result.stderr).toContain(args[0]);
    }
  });
});

describe("grapevine start and status", () => {
  it("status --json prints the node's /cluster/status body, and the table names the node as UN", async () => {
    const node = await cluster.start({ id: "lonely" });
    const json = await runGrapevine(["status", "--node", node.url, "--json"]);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout) as ClusterStatusBody;
    expect(body.node).toBe("lonely");
    expect(body.members.map((member) => member.id)).toEqual(["lonely"]);

    const table = await runGrapevine(["status", "--node", node.url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Cluster: 1 members, 1 live/);
    expect(table.stdout).toMatch(/^UN\s+lonely\s+127\.0\.0\.1:\d+\s/m);

    const fromEnv = await runGrapevine(["status", "--json"], { env: { GRAPEVINE_NODE: node.url } });
    expect(fromEnv.code).toBe(0);
  });

  it("status against a port where nothing listens exits 1 with one line", async () => {
    const port = await freePort();
    const result = await runGrapevine(["status", "--node", `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(stderrLines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stdout).toBe("");
  });

  it("start on a port in use exits 1 with one line saying so", async () => {
    const busy = await cluster.start({ id: "busy" });
    const result = await runGrapevine([
      "start",
      "--id",
      "second",
      "--listen",
      busy.address,
      "--data-dir",
      path.join(cluster.dir, "second"),
    ]);
    expect(result.code).toBe(1);
    expect(stderrLines(result.stderr)).toEqual([
      `grapevine: cannot listen on ${busy.address}: the address is already in use`,
    ]);
  });

  it("SIGTERM to a node exits 0 promptly after a clean shutdown", async () => {
    const node = await cluster.start({ id: "terminated" });
    process.kill(node.pid, "SIGTERM");
    const exit = await deadline(node.exited, PROMPT_EXIT_MS, "exit after SIGTERM");
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cluster.tail("terminated", 5)).toContain('"msg":"node stopped"');
  });
});

describe("grapevine start refuses a data dir it cannot use", () => {
  it("exits 1 with one line when the data dir belongs to another node, or is blocked by a file", async () => {
    const owner = await cluster.start({ id: "owner" });
    await cluster.signal("owner", "SIGTERM");
    const listen = `127.0.0.1:${await freePort()}`;
    const impostor = await runGrapevine([
      "start",
      "--id",
      "impostor",
      "--listen",
      listen,
      "--data-dir",
      owner.dataDir,
    ]);
    expect(impostor.code).toBe(1);
    expect(stderrLines(impostor.stderr)).toHaveLength(1);
    expect(impostor.stderr).toContain('belongs to node "owner", not "impostor"');

    const blocked = await runGrapevine([
      "start",
      "--listen",
      listen,
      "--data-dir",
      path.join(owner.logFile, "data"),
    ]);
    expect(blocked.code).toBe(1);
    expect(stderrLines(blocked.stderr)).toEqual([
      `grapevine: cannot use data dir ${path.join(owner.logFile, "data")}: a file is in the way`,
    ]);
  });
});

interface DevRun {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const devRuns: DevRun[] = [];
const devChildPids: number[] = [];

afterAll(() => {
  // Whatever a failed dev test left behind.
  for (const run of devRuns)
    if (run.child.exitCode === null && run.child.pid !== undefined) run.child.kill("SIGKILL");
  for (const pid of devChildPids) {
    if (pidAlive(pid)) process.kill(pid, "SIGKILL");
  }
});

function startDev(args: readonly string[]): DevRun {
  const child = spawn(process.execPath, [GRAPEVINE_BIN, "dev", ...args], {
    cwd: REPO_ROOT,
    env: withoutGrapevineVariables(process.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const run = { child, stdout: () => stdout, stderr: () => stderr, exited };
  devRuns.push(run);
  return run;
}

const NODE_LINE = /^(node\d+) (http:\/\/127\.0\.0\.1:\d+) pid (\d+)$/gm;

async function devNodes(
  run: DevRun,
  count: number,
): Promise<{ id: string; url: string; pid: number }[]> {
  return waitFor(
    () => {
      if (run.child.exitCode !== null) throw new Error(`dev exited early: ${run.stderr()}`);
      const found = [...run.stdout().matchAll(NODE_LINE)].map((match) => ({
        id: match[1] ?? "",
        url: match[2] ?? "",
        pid: Number(match[3]),
      }));
      return found.length === count ? found : null;
    },
    { timeoutMs: DEV_START_TIMEOUT_MS, intervalMs: 100, what: `dev to print ${count} node lines` },
  );
}

describe("grapevine dev", () => {
  it("dev --nodes 3 prints 3 URLs, forms a 3-member cluster, and on SIGINT exits 0 with every child gone", async () => {
    const basePort = await freePortRange(3);
    const run = startDev([
      "--nodes",
      "3",
      "--base-port",
      String(basePort),
      "--data-dir",
      path.join(cluster.dir, "dev"),
    ]);
    const nodes = await devNodes(run, 3);
    devChildPids.push(...nodes.map((node) => node.pid));
    expect(nodes.map((node) => node.url).sort()).toEqual(
      [0, 1, 2].map((offset) => `http://127.0.0.1:${basePort + offset}`),
    );
    await waitFor(
      async () => {
        const views = await Promise.all(
          nodes.map((node) => fetchJson<ClusterStatusBody>(`${node.url}/cluster/status`)),
        );
        return views.every(
          (view) => view.members.length === 3 && view.members.every((member) => member.live),
        );
      },
      { timeoutMs: DEV_START_TIMEOUT_MS, intervalMs: 200, what: "a 3-member live cluster" },
    );
    // Child logs are forwarded with their id as a prefix.
    expect(run.stdout()).toMatch(/^node2 \| \{.*"msg":"node started"/m);

    run.child.kill("SIGINT");
    const exit = await deadline(run.exited, DEV_STOP_TIMEOUT_MS, "dev to exit after SIGINT");
    expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
    for (const node of nodes) expect(pidAlive(node.pid), node.id).toBe(false);
    expect(run.stderr()).toBe("");
  });

  it("prints a node's URL only once that node is ready: when its line appears, /ready answers 200 and it serves", async () => {
    const basePort = await freePortRange(3);
    const run = startDev([
      "--nodes",
      "3",
      "--base-port",
      String(basePort),
      "--data-dir",
      path.join(cluster.dir, "dev-ready"),
    ]);
    // Probe each URL the moment its line is printed, not on the next poll of the output.
    const probes: Promise<{ id: string; ready: number; serving: boolean | undefined }>[] = [];
    const seen = new Set<string>();
    const onOutput = (): void => {
      for (const match of run.stdout().matchAll(NODE_LINE)) {
        const id = match[1] ?? "";
        const url = match[2] ?? "";
        if (seen.has(id)) continue;
        seen.add(id);
        probes.push(
          (async () => {
            const [ready, status] = await Promise.all([
              httpRequest(`${url}/ready`),
              fetchJson<ClusterStatusBody>(`${url}/cluster/status`),
            ]);
            return { id, ready: ready.status, serving: status.serving };
          })(),
        );
      }
    };
    run.child.stdout?.on("data", onOutput);
    const nodes = await devNodes(run, 3);
    devChildPids.push(...nodes.map((node) => node.pid));
    onOutput();
    const answers = await Promise.all(probes);
    expect(answers.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      ["node1", "node2", "node3"].map((id) => ({ id, ready: 200, serving: true })),
    );
    run.child.kill("SIGINT");
    const exit = await deadline(run.exited, DEV_STOP_TIMEOUT_MS, "dev to exit after SIGINT");
    expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
  });

  it("a SIGKILLed dev leaves no orphans: its children stop when the IPC channel closes", async () => {
    const basePort = await freePortRange(2);
    const run = startDev([
      "--nodes",
      "2",
      "--base-port",
      String(basePort),
      "--data-dir",
      path.join(cluster.dir, "dev-killed"),
    ]);
    const nodes = await devNodes(run, 2);
    devChildPids.push(...nodes.map((node) => node.pid));
    run.child.kill("SIGKILL");
    await run.exited;
    await waitFor(() => nodes.every((node) => !pidAlive(node.pid)), {
      timeoutMs: DEV_STOP_TIMEOUT_MS,
      intervalMs: 100,
      what: "dev's children to exit after dev was killed",
    });
  });
});
