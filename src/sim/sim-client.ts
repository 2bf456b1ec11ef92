// sim/sim-client.ts — simulated clients of a simulated cluster: each worker runs one operation at a
// time through a coordinator it picks, as an HTTP client of /kv would, and records it in the run's
// history for the judge (sim/history/checker.ts).
//
// The client reaches a node's coordinator and read repair directly (what api/kv-routes.ts calls),
// not through HTTP: the HTTP edge is covered by the real-process tests, and the simulator's budget
// goes to the data path. Its outcomes are mapped as the HTTP recorder of the real-process fault
// suite maps statuses (test/support/history/recorder.ts), so one judge reads both:
// - a node nobody listens on (crashed, not started) refuses the connection: the operation failed;
// - a paused node holds the request until it resumes, like a kernel's socket buffer;
// - `unavailable` (503) and `bad_request` are definite failures: the coordinator sent nothing;
// - a timeout (504), or no answer by the client's own deadline, leaves a write indeterminate: it
//   may land later, and the judge allows that; a read without an answer failed.
// A read that finds a tombstone records its timestamp (the coordinator knows it; HTTP would not).
// A put may carry a time to live (issue 17 §3); a read that finds a value expired by the node's
// wall clock when it answers records "not found", as api/kv-routes.ts answers 404 for it.

import type { Clock } from "../core/clock.js";
import type { ConsistencyLevel } from "../replication/consistency.js";
import type {
  DeleteRequest,
  ReadOutcome,
  ReadRequest,
  WriteOutcome,
  WriteRequest,
} from "../replication/coordinator-types.js";
import { readsAsAbsent } from "../storage/expiry.js";
import type { HistoryOp, OpOutcome, ReadOp, WriteOp } from "./history/types.js";

/** What a client reaches on a node: the calls api/kv-routes.ts makes. */
export interface NodeApi {
  write(request: WriteRequest): Promise<WriteOutcome>;
  delete(request: DeleteRequest): Promise<WriteOutcome>;
  read(request: ReadRequest): Promise<ReadOutcome>;
}

/** The cluster as its clients see it. */
export interface ClientView {
  readonly clock: Clock;
  /** The node's API when something listens at it, else undefined (connection refused). */
  apiOf(node: string): NodeApi | undefined;
  /** Resolves when the node runs code: at once, or when a paused node resumes. */
  whenRunning(node: string): Promise<void>;
  /** The node's wall clock now, ms: what it judges expiry by. */
  wallMsOf(node: string): number;
}

/** One operation a worker is to run. */
export type ClientOp =
  | {
      readonly kind: "put";
      readonly key: string;
      readonly level: ConsistencyLevel;
      readonly value: string;
      /** Absent: the value never expires. */
      readonly ttlSeconds?: number;
    }
  | { readonly kind: "delete"; readonly key: string; readonly level: ConsistencyLevel }
  | { readonly kind: "get"; readonly key: string; readonly level: ConsistencyLevel };

const CONTENT_TYPE = "application/octet-stream";

/** The history of a run as the clients make it. */
export class ClientHistory {
  readonly ops: HistoryOp[] = [];
  readonly events: { readonly atMs: number; readonly what: string }[] = [];
  #nextId = 0;

  nextId(): number {
    return this.#nextId++;
  }

  note(atMs: number, what: string): void {
    this.events.push({ atMs, what });
  }
}

interface Attempt<T> {
  readonly outcome: "answered" | "error" | "no-answer";
  readonly value?: T;
  readonly error?: unknown;
}

/**
 * Runs `call` on the node once it runs, and waits for its answer until `deadlineMs` of virtual time
 * after `startMs`. A node that is not listening refuses at once.
 */
function attempt<T>(
  view: ClientView,
  node: string,
  deadlineMs: number,
  call: (api: NodeApi) => Promise<T>,
): Promise<Attempt<T>> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: Attempt<T>): void => {
      if (done) return;
      done = true;
      cancel();
      resolve(result);
    };
    const cancel = view.clock.schedule(deadlineMs, () => finish({ outcome: "no-answer" }));
    const api = view.apiOf(node);
    if (api === undefined) {
      finish({ outcome: "error", error: new Error("connection refused") });
      return;
    }
    void view.whenRunning(node).then(() => {
      if (done) return;
      call(api).then(
        (value) => finish({ outcome: "answered", value }),
        (error: unknown) => finish({ outcome: "error", error }),
      );
    });
  });
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.message : String(error);
}

/** A write's outcome from an error: definite refusals failed, the rest may have landed. */
function writeOutcomeOf(error: unknown): OpOutcome {
  const code = codeOf(error);
  return code === "unavailable" || code === "bad_request" || code === "connection refused"
    ? "failed"
    : "indeterminate";
}

export interface RunOpOptions {
  readonly worker: string;
  readonly node: string;
  /** The client's own deadline: past it the operation is given up (indeterminate for a write). */
  readonly clientTimeoutMs: number;
}

/** Runs one operation and records it. */
export async function runClientOp(
  view: ClientView,
  history: ClientHistory,
  op: ClientOp,
  options: RunOpOptions,
): Promise<HistoryOp> {
  const id = history.nextId();
  const startMs = view.clock.nowMs();
  const base = {
    id,
    worker: options.worker,
    node: options.node,
    key: op.key,
    level: String(op.level),
    startMs,
  };
  const recorded =
    op.kind === "get"
      ? await readOp(view, op, options, base)
      : await writeOp(view, op, options, base);
  history.ops.push(recorded);
  return recorded;
}

type OpStart = Pick<WriteOp, "id" | "worker" | "node" | "key" | "level" | "startMs">;

async function writeOp(
  view: ClientView,
  op: Exclude<ClientOp, { kind: "get" }>,
  options: RunOpOptions,
  base: OpStart,
): Promise<WriteOp> {
  const value = op.kind === "put" ? op.value : null;
  const ttl = op.kind === "put" && op.ttlSeconds !== undefined ? { ttlSeconds: op.ttlSeconds } : {};
  const result = await attempt(view, options.node, options.clientTimeoutMs, (api) =>
    op.kind === "put"
      ? api.write({
          key: op.key,
          value: Buffer.from(op.value, "latin1"),
          contentType: CONTENT_TYPE,
          level: op.level,
          ...ttl,
        })
      : api.delete({ key: op.key, level: op.level }),
  );
  const endMs = view.clock.nowMs();
  const write = { ...base, kind: "write" as const, value, endMs, ...ttl };
  if (result.outcome === "answered" && result.value !== undefined) {
    return { ...write, outcome: "ok", timestampUs: result.value.timestampUs };
  }
  if (result.outcome === "no-answer")
    return { ...write, outcome: "indeterminate", error: "client timeout" };
  return { ...write, outcome: writeOutcomeOf(result.error), error: codeOf(result.error) };
}

/** The bytes as latin1 text (one char per byte), read in place rather than copied first. */
function latin1Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

async function readOp(
  view: ClientView,
  op: Extract<ClientOp, { kind: "get" }>,
  options: RunOpOptions,
  base: OpStart,
): Promise<ReadOp> {
  const result = await attempt(view, options.node, options.clientTimeoutMs, (api) =>
    api.read({ key: op.key, level: op.level }),
  );
  const endMs = view.clock.nowMs();
  const read = { ...base, kind: "read" as const, endMs };
  if (result.outcome !== "answered" || result.value === undefined) {
    const error = result.outcome === "no-answer" ? "client timeout" : codeOf(result.error);
    return { ...read, outcome: "failed", error };
  }
  const record = result.value.record;
  const nowUs = Math.floor(view.wallMsOf(options.node) * 1000);
  if (record === undefined || (!record.tombstone && readsAsAbsent(record, nowUs))) {
    return { ...read, outcome: "ok", value: null };
  }
  if (record.tombstone)
    return { ...read, outcome: "ok", value: null, timestampUs: record.timestampUs };
  return {
    ...read,
    outcome: "ok",
    value: latin1Of(record.value),
    timestampUs: record.timestampUs,
  };
}
