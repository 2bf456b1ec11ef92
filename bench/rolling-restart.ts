// bench/rolling-restart.ts — client errors during a rolling restart of every node of a 5-node
// cluster under quorum load (issue 21 §3; target: zero).
//
// Five real `grapevine start` processes on 127.0.0.1 (rf 3, 16 vnodes, node1 the seed). A client
// load runs throughout: 8 workers, 50% reads at r=quorum and 50% writes at w=quorum over 1,000
// keys, each operation sent to the next node round-robin. The client does what a
// rolling-restart-aware client does (the client library will too): when a node refuses the
// connection or answers 503 with reason `starting` or `draining` (nothing was done), it moves to
// the next node and sends the operation again, up to once per node. Anything else that is not a
// success (a timeout, a reset socket, a 503 `unavailable` for want of replicas, a 504) is a client
// error. After a warm-up, each node in turn gets SIGTERM (its exit code and stop time are kept), is
// started again on the same port and data dir, and the next one goes once every other node sees it
// live and it serves; the load runs a little past the last restart.
//
// Usage: npm run build && npx tsx bench/rolling-restart.ts [--rounds 1] [--signal SIGTERM|SIGKILL]
// [--avoid-ms 1000] (SIGKILL shows what the same restart costs without the drain, for contrast; its
// results go to rolling-restart-sigkill.json).

import type { ClusterStatusBody } from "../src/api/cluster-routes.js";
import { closeKvPools, kv, type KvAnswer } from "../test/support/kv.js";
import { ProcessCluster, type ClusterNode } from "../test/support/process-cluster.js";
import { sleep, waitFor } from "../test/support/wait-for.js";
import { writeBenchReport } from "./lib/report.js";
import { intFlag } from "./lib/sim.js";

const ROUNDS = intFlag("rounds", 1);
/**
 * After a node refuses, the client keeps away from it this long (0: it goes back on its next turn).
 * A client that returns at once keeps opening connections to a node that is about to stop
 * listening, and a connection caught in that moment is reset; drivers keep away from a refusing
 * node for a while.
 */
const AVOID_MS = intFlag("avoid-ms", 1_000);
const SIGNAL_ARG = process.argv.indexOf("--signal");
const SIGNAL: NodeJS.Signals =
  SIGNAL_ARG >= 0 && process.argv[SIGNAL_ARG + 1] === "SIGKILL" ? "SIGKILL" : "SIGTERM";
const NODES = 5;
const LOAD_WORKERS = 8;
const LOAD_KEYS = 1_000;
/** A request's deadline: past it the operation is a client error (timeout). */
const REQUEST_TIMEOUT_MS = 5_000;
/** Load before the first restart and after the last one is back. */
const LOAD_MARGIN_MS = 3_000;
/** How long a restarted node may take to serve and be seen live by every peer. */
const RETURN_TIMEOUT_MS = 60_000;
const TARGET_CLIENT_ERRORS = 0;

interface Tally {
  ops: number;
  /** Operations that needed at least one move to another node. */
  moved: number;
  /** Moves, by what the refusing node answered. */
  movesByKind: Record<string, number>;
  errorsByKind: Record<string, number>;
  /** The first errors, with when (ms since the load began) and on which node's answer. */
  errors: { atMs: number; node: string; kind: string }[];
}

/** Errors kept with their time and node; the rest are only counted. */
const ERRORS_KEPT_MAX = 100;

/** Why a node refused an operation it did nothing for, or null when it did not refuse it. */
function refusalOf(answer: KvAnswer | Error): string | null {
  if (answer instanceof Error) {
    const code = (answer as Error & { code?: unknown }).code;
    return code === "ECONNREFUSED" ? "connection refused" : null;
  }
  if (answer.status !== 503) return null;
  try {
    const reason = (JSON.parse(answer.body.toString("utf8")) as { reason?: unknown }).reason;
    return reason === "starting" || reason === "draining" ? `503 ${reason}` : null;
  } catch {
    return null;
  }
}

function errorKindOf(answer: KvAnswer | Error): string {
  if (answer instanceof Error) {
    const code = (answer as Error & { code?: unknown }).code;
    return typeof code === "string" ? code : answer.name;
  }
  let code = "";
  try {
    const body = JSON.parse(answer.body.toString("utf8")) as { error?: unknown; reason?: unknown };
    const reason = typeof body.reason === "string" ? ` (${body.reason})` : "";
    code = ` ${typeof body.error === "string" ? body.error : "?"}${reason}`;
  } catch {
    // Not JSON: the status alone.
  }
  return `${answer.status}${code}`;
}

async function attempt(
  node: ClusterNode,
  read: boolean,
  key: string,
  value: string,
): Promise<KvAnswer | Error> {
  try {
    return read
      ? await kv(node.url, "GET", key, { query: "r=quorum", timeoutMs: REQUEST_TIMEOUT_MS })
      : await kv(node.url, "PUT", key, {
          query: "w=quorum",
          body: value,
          contentType: "text/plain",
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** The closed-loop load with the moving client; stop() ends it and returns the tally. */
function startLoad(nodes: readonly ClusterNode[]): { stop: () => Promise<Tally> } {
  const tally: Tally = { ops: 0, moved: 0, movesByKind: {}, errorsByKind: {}, errors: [] };
  let stopped = false;
  let sequence = 0;
  const began = performance.now();
  /** Per node, until when the client keeps away from it. */
  const avoidUntil = nodes.map(() => 0);
  const pick = (): number => {
    for (let tries = 0; tries < nodes.length; tries++) {
      const index = next++ % nodes.length;
      if ((avoidUntil[index] as number) <= performance.now()) return index;
    }
    return next++ % nodes.length;
  };
  let next = 0;
  const workers = Array.from({ length: LOAD_WORKERS }, async (_, worker) => {
    while (!stopped) {
      const read = Math.random() < 0.5;
      const key = `load-${Math.floor(Math.random() * LOAD_KEYS)}`;
      const value = `${worker}:${sequence++}`;
      let moves = 0;
      let answer: KvAnswer | Error = new Error("no node tried");
      let node = 0;
      for (let tries = 0; tries < nodes.length; tries++) {
        node = pick();
        answer = await attempt(nodes[node] as ClusterNode, read, key, value);
        const refusal = refusalOf(answer);
        if (refusal === null) break;
        avoidUntil[node] = performance.now() + AVOID_MS;
        moves++;
        tally.movesByKind[refusal] = (tally.movesByKind[refusal] ?? 0) + 1;
      }
      tally.ops++;
      if (moves > 0) tally.moved++;
      const ok =
        !(answer instanceof Error) &&
        (answer.status === 200 || answer.status === 204 || answer.status === 404);
      if (!ok) {
        const kind = errorKindOf(answer);
        tally.errorsByKind[kind] = (tally.errorsByKind[kind] ?? 0) + 1;
        if (tally.errors.length < ERRORS_KEPT_MAX)
          tally.errors.push({
            atMs: Math.round(performance.now() - began),
            node: nodes[node]?.id ?? "?",
            kind,
          });
      }
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return tally;
    },
  };
}

async function liveOn(observer: ClusterNode, subject: string): Promise<boolean> {
  try {
    const answer = await kv(observer.url, "GET", "", {
      rawPath: "/cluster/status",
      timeoutMs: 3_000,
    });
    const view = JSON.parse(answer.body.toString()) as ClusterStatusBody;
    return (
      view.members.find((member) => member.id === subject)?.live === true && view.serving !== false
    );
  } catch {
    return false;
  }
}

async function startCluster(cluster: ProcessCluster): Promise<ClusterNode[]> {
  const seed = await cluster.start({ id: "node1" });
  const rest = Array.from({ length: NODES - 1 }, (_, i) => `node${i + 2}`);
  // One at a time: joins queue behind each other anyway (topology/bootstrap).
  for (const id of rest) await cluster.start({ id, seeds: [seed.address] });
  const nodes = cluster.nodes();
  await waitFor(
    async () =>
      (await Promise.all(nodes.flatMap((o) => nodes.map((s) => liveOn(o, s.id))))).every(Boolean),
    { timeoutMs: 60_000, intervalMs: 200, what: "every node to see every node live" },
  );
  return nodes;
}

interface RestartFigure {
  readonly node: string;
  /** When the signal went, in ms since the load began. */
  readonly signalledAtMs: number;
  readonly exit: { code: number | null; signal: string | null } | null;
  readonly stopMs: number;
  readonly backMs: number;
}

async function round(index: number): Promise<{ tally: Tally; restarts: RestartFigure[] }> {
  const cluster = new ProcessCluster(`rolling-${index}`);
  try {
    const nodes = await startCluster(cluster);
    const loadBegan = performance.now();
    const load = startLoad(nodes);
    await sleep(LOAD_MARGIN_MS);
    const restarts: RestartFigure[] = [];
    for (const node of nodes) {
      const signalled = performance.now();
      const exit = await cluster.signal(node.id, SIGNAL);
      const stopMs = performance.now() - signalled;
      await cluster.restart(node.id, { waitServing: false });
      const peers = nodes.filter((other) => other.id !== node.id);
      await waitFor(
        async () =>
          (await Promise.all([node, ...peers].map((o) => liveOn(o, node.id)))).every(Boolean),
        {
          timeoutMs: RETURN_TIMEOUT_MS,
          intervalMs: 100,
          what: `${node.id} to serve and be live on every peer`,
        },
      );
      restarts.push({
        node: node.id,
        signalledAtMs: Math.round(signalled - loadBegan),
        exit,
        stopMs: Math.round(stopMs),
        backMs: Math.round(performance.now() - signalled),
      });
      console.log(
        `  ${node.id}: ${SIGNAL} → exit ${JSON.stringify(exit)} in ${Math.round(stopMs)} ms, back in ${Math.round(performance.now() - signalled)} ms`,
      );
    }
    await sleep(LOAD_MARGIN_MS);
    return { tally: await load.stop(), restarts };
  } finally {
    await closeKvPools();
    await cluster.cleanup();
  }
}

const rounds: { tally: Tally; restarts: RestartFigure[] }[] = [];
for (let i = 0; i < ROUNDS; i++) {
  console.log(`round ${i + 1}/${ROUNDS} (${SIGNAL})`);
  const result = await round(i);
  const errors = Object.values(result.tally.errorsByKind).reduce((sum, n) => sum + n, 0);
  console.log(
    `  ${result.tally.ops} operations, ${result.tally.moved} moved to another node, ${errors} client errors ${JSON.stringify(result.tally.errorsByKind)}`,
  );
  rounds.push(result);
}
const clientErrors = rounds.map((r) =>
  Object.values(r.tally.errorsByKind).reduce((sum, n) => sum + n, 0),
);
const written = await writeBenchReport({
  name: `rolling-restart${SIGNAL === "SIGTERM" ? "" : "-sigkill"}${AVOID_MS === 0 ? "-no-avoid" : ""}`,
  description:
    `5 real grapevine processes on 127.0.0.1 (rf 3). A client load (8 workers, 50/50 r=quorum reads and w=quorum writes over 1,000 keys, round-robin over the nodes, ` +
    `moving to the next node on a refused connection or a 503 starting/draining and keeping away from the refusing node for ${AVOID_MS} ms) runs while every node in turn gets ${SIGNAL} and is started again; ` +
    "the next node goes once the restarted one serves and every peer sees it live. Client errors: operations that failed after the moves.",
  parameters: {
    signal: SIGNAL,
    avoidMs: AVOID_MS,
    nodes: NODES,
    rounds: ROUNDS,
    loadWorkers: LOAD_WORKERS,
    loadKeys: LOAD_KEYS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    loadMarginMs: LOAD_MARGIN_MS,
  },
  results: { clientErrors, rounds },
  targets: [
    {
      name: "client errors during a rolling restart of every node of a 5-node cluster under quorum load",
      target: String(TARGET_CLIENT_ERRORS),
      measured: clientErrors.join(", "),
      met: clientErrors.every((n) => n <= TARGET_CLIENT_ERRORS),
    },
  ],
});
console.log(`wrote ${written.join(", ")}`);
