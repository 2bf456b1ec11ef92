// test/support/history/recorder.ts — records a history against real nodes, for checker.ts to judge.
//
// The API, smallest first (any cluster test may use it; the fault suite under test/faults does):
//
//   const recorder = new HistoryRecorder("my-test");
//   const load = startWorkload(recorder, { workers: [{ name: "w1", nodes: [a, b] }], keys: 40, seed
//   }); ... inject faults, recorder.note("node3 cut off") ... await load.stop(); ... heal, wait for
//   the cluster to settle ... await recorder.finish({ nodes: allNodes }); // final quorum reads on
//   every node + replica copies const result = recorder.check(); // prints the summary; writes the
//   file on failure expect(result.violations).toEqual([]);
//
// finish() is finalReads() then collectReplicas(); a test that gives replicas time to converge
// calls finalReads() once and collectReplicas() until it returns no divergent key
// (test/faults/fault-cluster.ts settleAndCollect). The checker can also be run alone on a History
// (checker.ts checkHistory).
//
// Operations go through recorder.write()/read() (one HTTP request each, with a deadline) and are
// classified from the client's side: a write answered 204 is ok; 503 (refused before anything was
// sent) and other 4xx are failed; a 504, a 5xx or a transport error (connection refused or reset,
// no answer within the deadline) is indeterminate — it may have landed. A read answered 200 or 404
// is ok; anything else failed (a read that did not answer changes nothing). Written values are
// unique:
// `<worker>:<sequence>`. Times are milliseconds on one monotonic clock (performance.now()).

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRandom, randomInt, type Random } from "../../../src/core/random.js";
import { tokenFromString, tokenOf } from "../../../src/ring/partitioner.js";
import type { RingBody } from "../../../src/api/cluster-routes.js";
import { fetchJson } from "../http.js";
import { inParallel, kv, localRecord } from "../kv.js";
import { sleep } from "../wait-for.js";
import type { ClusterNode } from "../process-cluster.js";
import { checkHistory, formatReport, type CheckResult } from "../../../src/sim/history/checker.js";
import type {
  History,
  HistoryOp,
  ReadOp,
  ReplicaState,
  WriteOp,
} from "../../../src/sim/history/types.js";

/** A node as the recorder needs it: an id and the URL clients use. */
export type HistoryNode = Pick<ClusterNode, "id" | "url">;

export const HISTORY_DEFAULTS = {
  /**
   * A client gives up on a request after this long; the op is then indeterminate (writes) or failed
   * (reads).
   */
  requestTimeoutMs: 5_000,
  /** Final reads and replica reads in flight at once. */
  finalReadConcurrency: 16,
  /** A worker's pause after an operation that did not succeed. */
  backoffAfterErrorMs: 100,
} as const;

/**
 * Where failed runs' histories go (GRAPEVINE_HISTORY_DIR, else the temp dir); check() prints the
 * file's path.
 */
export const HISTORY_DIR =
  process.env["GRAPEVINE_HISTORY_DIR"] ?? path.join(os.tmpdir(), "grapevine-histories");

export class HistoryRecorder {
  readonly name: string;
  readonly #startedAt = new Date().toISOString();
  readonly #ops: HistoryOp[] = [];
  readonly #finalReads: ReadOp[] = [];
  #replicas: ReplicaState[] = [];
  readonly #events: { atMs: number; what: string }[] = [];
  readonly #written = new Set<string>();
  readonly #sequences = new Map<string, number>();
  #nextId = 0;
  readonly #timeoutMs: number;

  constructor(name: string, options: { requestTimeoutMs?: number } = {}) {
    this.name = name;
    this.#timeoutMs = options.requestTimeoutMs ?? HISTORY_DEFAULTS.requestTimeoutMs;
  }

  nowMs(): number {
    return performance.now();
  }

  /** A fault or another moment worth seeing in the file: "node3 cut off". */
  note(what: string): void {
    this.#events.push({ atMs: this.nowMs(), what });
  }

  /** Keys some write was invoked on (whatever its outcome): the keys the final checks cover. */
  writtenKeys(): string[] {
    return [...this.#written].sort();
  }

  /** PUT a fresh unique value to `key` through `node` at `level`, and record it. */
  async write(worker: string, node: HistoryNode, key: string, level: string): Promise<WriteOp> {
    const sequence = (this.#sequences.get(worker) ?? 0) + 1;
    this.#sequences.set(worker, sequence);
    const value = `${worker}:${sequence}`;
    const id = this.#nextId++;
    this.#written.add(key);
    const startMs = this.nowMs();
    const base = { id, worker, node: node.id, key, level, value, startMs };
    let op: WriteOp;
    try {
      const answer = await kv(node.url, "PUT", key, {
        query: `w=${level}`,
        body: value,
        contentType: "text/plain",
        timeoutMs: this.#timeoutMs,
      });
      const endMs = this.nowMs();
      if (answer.status === 204) {
        op = {
          ...base,
          kind: "write",
          endMs,
          outcome: "ok",
          status: 204,
          ...timestampOf(answer.timestamp),
        };
      } else {
        const definite = answer.status === 503 || (answer.status >= 400 && answer.status < 500);
        op = {
          ...base,
          kind: "write",
          endMs,
          outcome: definite ? "failed" : "indeterminate",
          status: answer.status,
          error: errorCodeOf(answer.body),
        };
      }
    } catch (error) {
      op = {
        ...base,
        kind: "write",
        endMs: this.nowMs(),
        outcome: "indeterminate",
        error: messageOf(error),
      };
    }
    this.#ops.push(op);
    return op;
  }

  /** GET `key` through `node` at `level`, and record it. */
  async read(worker: string, node: HistoryNode, key: string, level: string): Promise<ReadOp> {
    const op = await this.#read(worker, node, key, level);
    this.#ops.push(op);
    return op;
  }

  /**
   * After the faults healed and the cluster settled: finalReads() then collectReplicas(). Every
   * node holding a replica must be in `nodes`, since a copy is read from the replica itself.
   */
  async finish(options: { nodes: readonly HistoryNode[] }): Promise<void> {
    await this.finalReads(options);
    await this.collectReplicas(options);
  }

  /**
   * Reads every written key at r=quorum from every node in `nodes` (the lost-write check's reads).
   */
  async finalReads(options: { nodes: readonly HistoryNode[] }): Promise<void> {
    const keys = this.writtenKeys();
    const pairs = options.nodes.flatMap((node) => keys.map((key) => ({ node, key })));
    const reads: ReadOp[] = [];
    await inParallel(pairs, HISTORY_DEFAULTS.finalReadConcurrency, async ({ node, key }) => {
      reads.push(await this.#read("final", node, key, "quorum"));
    });
    this.#finalReads.push(...reads.sort((a, b) => a.id - b.id));
  }

  /**
   * Reads every written key's replicas' own copies (replicas from the first node's /cluster/ring)
   * and keeps them as the history's final replica state (a later call replaces an earlier one).
   * Returns the keys whose replicas disagree.
   */
  async collectReplicas(options: { nodes: readonly HistoryNode[] }): Promise<string[]> {
    this.#replicas = await this.replicaStates(options.nodes);
    return this.#replicas
      .filter((state) => new Set(state.copies.map((copy) => JSON.stringify(copy.version))).size > 1)
      .map((state) => state.key);
  }

  /** Every written key's replicas' own copies, read from each replica's store directly. */
  async replicaStates(nodes: readonly HistoryNode[]): Promise<ReplicaState[]> {
    const first = nodes[0];
    if (first === undefined) throw new Error("replicaStates needs at least one node");
    const ring = await fetchJson<RingBody>(`${first.url}/cluster/ring`);
    const byId = new Map(nodes.map((node) => [node.id, node]));
    const states: ReplicaState[] = [];
    await inParallel(this.writtenKeys(), HISTORY_DEFAULTS.finalReadConcurrency, async (key) => {
      const replicas = replicasOfKey(ring, key);
      const copies = await Promise.all(
        replicas.map(async (id) => {
          const node = byId.get(id);
          if (node === undefined)
            throw new Error(`replica ${id} of ${key} is not among the nodes given`);
          // localRecord reads only the node's id and url.
          const record = await localRecord(node as ClusterNode, key);
          return {
            node: id,
            version:
              record === undefined
                ? null
                : {
                    timestampUs: record.timestampUs,
                    writer: record.writer,
                    value: Buffer.from(record.value).toString("utf8"),
                    tombstone: record.tombstone,
                  },
          };
        }),
      );
      states.push({ key, copies });
    });
    return states.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  history(): History {
    return {
      name: this.name,
      startedAt: this.#startedAt,
      ops: [...this.#ops],
      finalReads: [...this.#finalReads],
      replicas: [...this.#replicas],
      events: [...this.#events],
    };
  }

  /**
   * Checks the history, prints the report, and on failure writes the history to a file and prints
   * its path.
   */
  check(options: { replicationFactor?: number } = {}): CheckResult & { file: string | null } {
    const history = this.history();
    const result = checkHistory(history, options);
    console.log(formatReport(this.name, result));
    let file: string | null = null;
    if (!result.ok) {
      file = writeHistoryFile(history, result);
      console.log(`[history ${this.name}] history kept in ${file}`);
    }
    return { ...result, file };
  }

  async #read(worker: string, node: HistoryNode, key: string, level: string): Promise<ReadOp> {
    const id = this.#nextId++;
    const startMs = this.nowMs();
    const base = { id, worker, node: node.id, key, level, startMs };
    try {
      const answer = await kv(node.url, "GET", key, {
        query: `r=${level}`,
        timeoutMs: this.#timeoutMs,
      });
      const endMs = this.nowMs();
      if (answer.status === 200)
        return {
          ...base,
          kind: "read",
          endMs,
          outcome: "ok",
          status: 200,
          value: answer.body.toString("utf8"),
          ...timestampOf(answer.timestamp),
        };
      if (answer.status === 404)
        return { ...base, kind: "read", endMs, outcome: "ok", status: 404, value: null };
      return {
        ...base,
        kind: "read",
        endMs,
        outcome: "failed",
        status: answer.status,
        error: errorCodeOf(answer.body),
      };
    } catch (error) {
      return {
        ...base,
        kind: "read",
        endMs: this.nowMs(),
        outcome: "failed",
        error: messageOf(error),
      };
    }
  }
}

/** Writes a history and its check result as JSON; returns the path. */
export function writeHistoryFile(history: History, result: CheckResult): string {
  mkdirSync(HISTORY_DIR, { recursive: true });
  const file = path.join(
    HISTORY_DIR,
    `${history.name}-${history.startedAt.replace(/[:.]/g, "-")}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ summary: result.summary, violations: result.violations, history }, null, 1)}\n`,
  );
  return file;
}

/** The replicas of a key from a /cluster/ring answer: the range (start, end] holding its token. */
export function replicasOfKey(ring: RingBody, key: string): readonly string[] {
  const token = tokenOf(key);
  for (const range of ring.ranges) {
    const start = tokenFromString(range.start);
    const end = tokenFromString(range.end);
    const inside = start < end ? token > start && token <= end : token > start || token <= end;
    if (inside) return range.replicas;
  }
  throw new Error(`no range of the ring holds the token of ${JSON.stringify(key)}`);
}

function timestampOf(header: string | undefined): { timestampUs?: number } {
  if (header === undefined) return {};
  const value = Number(header);
  return Number.isSafeInteger(value) ? { timestampUs: value } : {};
}

function errorCodeOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString("utf8")) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error)
    return (error as NodeJS.ErrnoException).code ?? error.name + ": " + error.message;
  return String(error);
}

export interface WorkerSpec {
  readonly name: string;
  /** The nodes this worker sends its requests to, one picked at random per request. */
  readonly nodes: readonly HistoryNode[] | (() => readonly HistoryNode[]);
  /** Default "quorum". */
  readonly writeLevel?: string;
  readonly readLevel?: string;
}

export interface WorkloadOptions {
  readonly workers: readonly WorkerSpec[];
  /** Keys `<prefix>-0 .. <prefix>-(keys-1)`, chosen uniformly. */
  readonly keys: number;
  readonly keyPrefix?: string;
  /** Share of reads, 0..1. Default 0.5. */
  readonly readFraction?: number;
  /** Seeds the workers' choices; print it. */
  readonly seed: number;
}

export interface Workload {
  /** Stops the workers after their current operation; resolves when all stopped. */
  stop(): Promise<void>;
}

/**
 * Runs each worker in a loop, one operation at a time, until stop(): a random key, a read or a
 * write, through a random one of its nodes. A worker whose node does not answer just records that
 * and goes on.
 */
export function startWorkload(recorder: HistoryRecorder, options: WorkloadOptions): Workload {
  let stopped = false;
  const prefix = options.keyPrefix ?? "k";
  const readFraction = options.readFraction ?? 0.5;
  const root = createRandom(options.seed);
  const loops = options.workers.map(async (worker) => {
    const random: Random = createRandom(randomInt(root, 2 ** 31));
    while (!stopped) {
      const nodes = typeof worker.nodes === "function" ? worker.nodes() : worker.nodes;
      const node = nodes[randomInt(random, nodes.length)];
      if (node === undefined) throw new Error(`worker ${worker.name} has no node`);
      const key = `${prefix}-${randomInt(random, options.keys)}`;
      const op =
        random.next() < readFraction
          ? await recorder.read(worker.name, node, key, worker.readLevel ?? "quorum")
          : await recorder.write(worker.name, node, key, worker.writeLevel ?? "quorum");
      // A dead or refusing node answers at once: back off a little rather than record thousands of
      // refusals.
      if (op.outcome !== "ok") await sleep(HISTORY_DEFAULTS.backoffAfterErrorMs);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
