// cli/repair.ts — `grapevine repair [--node URL] [--json] [--dry-run]` (SPEC §1): runs Merkle
// anti-entropy now for every range the node replicates, against every other replica of it.
//
// It starts the repair with `POST /admin/repair` and polls `GET /admin/repair/:id` until the job
// ends, showing a progress bar on stderr (cli-progress, only when stderr is a terminal; otherwise
// one plain line per peer finished, none with --json), then prints the summary: ranges compared and
// differing, keys sent and received, bytes, seconds. `--json` prints the final job body as JSON
// instead, for scripts.
// `--dry-run` compares and lists what would move without moving it; `--range start:end` repairs one
// range of the ring (start:end, as GET /cluster/ring names it) instead of all. Exit 0 when every
// session succeeded, 1 when the node cannot be reached or any session failed (the summary still
// prints), 2 on bad usage.

import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Agent, request } from "undici";
import { tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import {
  CliError,
  EXIT_CODES,
  humanBytes,
  isTerminal,
  type CliOutput,
  type ExitCode,
} from "./shared.js";
import type { SessionSummary } from "../antientropy/repair-session.js";

export const REPAIR_CLI_LIMITS = {
  /** One admin request, connect to last byte. */
  requestTimeoutMs: 10_000,
  /** How often the job is polled. */
  pollIntervalMs: 250,
  /** A job body is a few hundred bytes; far more is not a node's answer. */
  bodyBytesMax: 1024 * 1024,
} as const;

export interface RepairJobBody {
  readonly id: string;
  readonly state: "running" | "done" | "failed";
  readonly dryRun: boolean;
  /** The one range repaired (start:end); null or absent: every range the node replicates. */
  readonly range?: string | null;
  readonly progress: { peers: number; peersDone: number; ranges: number; rangesCompared: number };
  /**
   * The node's session summary (antientropy/repair-session.ts) less its tree-node count, and the
   * job's seconds.
   */
  readonly summary: Readonly<Omit<SessionSummary, "nodesCompared"> & { seconds: number }>;
  readonly failures: readonly { peer: string; message: string }[];
}

function isNumberRecord(value: unknown, keys: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  return keys.every((key) => typeof (value as Record<string, unknown>)[key] === "number");
}

/** Checks a decoded job body; null when it is not one. */
export function parseRepairJob(value: unknown): RepairJobBody | null {
  if (typeof value !== "object" || value === null) return null;
  const body = value as Record<string, unknown>;
  if (
    typeof body["id"] !== "string" ||
    !["running", "done", "failed"].includes(body["state"] as string)
  )
    return null;
  if (typeof body["dryRun"] !== "boolean") return null;
  if (!isNumberRecord(body["progress"], ["peers", "peersDone", "ranges", "rangesCompared"]))
    return null;
  const summaryKeys = [
    "rangesCompared",
    "rangesDiffering",
    "keysSent",
    "keysReceived",
    "bytesSent",
    "bytesReceived",
    "roundTrips",
    "leavesSkipped",
    "seconds",
  ];
  if (!isNumberRecord(body["summary"], summaryKeys)) return null;
  const failures = body["failures"];
  if (
    !Array.isArray(failures) ||
    !failures.every(
      (f) =>
        typeof f === "object" &&
        f !== null &&
        typeof (f as Record<string, unknown>)["peer"] === "string",
    )
  ) {
    return null;
  }
  return body as unknown as RepairJobBody;
}

/** The summary a person reads. */
export function renderRepairSummary(job: RepairJobBody): string {
  const s = job.summary;
  const verb = job.dryRun ? "would send" : "sent";
  const verbReceived = job.dryRun ? "would receive" : "received";
  const lines = [
    `Repair ${job.id}${job.dryRun ? " (dry run)" : ""}${
      typeof job.range === "string" ? ` of range ${job.range}` : ""
    }: ${job.state}`,
    `  ranges compared   ${s.rangesCompared} (with ${job.progress.peers} replica${job.progress.peers === 1 ? "" : "s"})`,
    `  ranges differing  ${s.rangesDiffering}`,
    `  ${`keys ${verb}`.padEnd(17)} ${s.keysSent}`,
    `  ${`keys ${verbReceived}`.padEnd(17)} ${s.keysReceived}`,
    `  bytes             ${humanBytes(s.bytesSent)} sent, ${humanBytes(s.bytesReceived)} received, ${s.roundTrips} round trips`,
    `  seconds           ${s.seconds.toFixed(2)}`,
  ];
  if (s.leavesSkipped > 0)
    lines.push(`  leaves skipped    ${s.leavesSkipped} (more records than one list holds)`);
  for (const failure of job.failures)
    lines.push(`  failed with ${failure.peer}: ${failure.message}`);
  return `${lines.join("\n")}\n`;
}

async function call(
  agent: Agent,
  url: string,
  method: "GET" | "POST",
  body?: string,
): Promise<{ status: number; json: unknown }> {
  let response;
  try {
    response = await request(url, {
      method,
      dispatcher: agent,
      signal: AbortSignal.timeout(REPAIR_CLI_LIMITS.requestTimeoutMs),
      headers: {
        ...authHeaders(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body }),
    });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const reason =
      code === "ECONNREFUSED"
        ? "connection refused"
        : error instanceof Error
          ? error.message
          : String(error);
    throw new CliError(`cannot reach ${url}: ${reason}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > REPAIR_CLI_LIMITS.bodyBytesMax)
      throw new CliError(`${url} sent more than ${REPAIR_CLI_LIMITS.bodyBytesMax} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${url} answered ${response.statusCode} without JSON`);
  }
  return { status: response.statusCode, json };
}

function errorText(json: unknown): string {
  const body = json as { error?: unknown; message?: unknown } | null;
  return typeof body?.message === "string"
    ? body.message
    : typeof body?.error === "string"
      ? body.error
      : "unknown error";
}

export interface RepairRunOptions {
  readonly nodeUrl: string;
  readonly dryRun: boolean;
  /** One range, start:end; absent: every range the node replicates. */
  readonly range?: string;
  /** Called with each polled job (the progress display). */
  onProgress?(job: RepairJobBody): void;
}

/** Starts a repair on the node and waits for it to end; the final job body. */
export async function runRepair(options: RepairRunOptions): Promise<RepairJobBody> {
  const agent = new Agent({
    connect: { timeout: REPAIR_CLI_LIMITS.requestTimeoutMs, ...tlsConnect() },
  });
  try {
    const query = new URLSearchParams();
    if (options.dryRun) query.set("dryRun", "true");
    if (options.range !== undefined) query.set("range", options.range);
    const search = query.size === 0 ? "" : `?${query.toString()}`;
    const started = await call(agent, `${options.nodeUrl}/admin/repair${search}`, "POST");
    const id = (started.json as { id?: unknown } | null)?.id;
    if (started.status !== 202 || typeof id !== "string") {
      throw new CliError(
        `${options.nodeUrl} refused the repair (${started.status}): ${errorText(started.json)}`,
      );
    }
    for (;;) {
      const polled = await call(
        agent,
        `${options.nodeUrl}/admin/repair/${encodeURIComponent(id)}`,
        "GET",
      );
      if (polled.status !== 200)
        throw new CliError(
          `${options.nodeUrl} lost repair ${id} (${polled.status}): ${errorText(polled.json)}`,
        );
      const job = parseRepairJob(polled.json);
      if (job === null)
        throw new CliError(`${options.nodeUrl} answered something that is not a repair job`);
      options.onProgress?.(job);
      if (job.state !== "running") return job;
      await new Promise((resolve) => setTimeout(resolve, REPAIR_CLI_LIMITS.pollIntervalMs));
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** A bar on a terminal; one line per finished peer otherwise (a log stays readable). */
function progressDisplay(
  stream: NodeJS.WriteStream,
  output: CliOutput,
): { update(job: RepairJobBody): void; finish(): void } {
  if (!isTerminal(stream)) {
    let peersDone = 0;
    return {
      update(job) {
        if (job.progress.peersDone === peersDone) return;
        peersDone = job.progress.peersDone;
        output.err(
          `repair: ${peersDone}/${job.progress.peers} replicas done, ${job.summary.rangesCompared}/${job.progress.ranges} ranges compared\n`,
        );
      },
      finish: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "repair [{bar}] {value}/{total} ranges | {differing} differing | {keys} keys moved",
      hideCursor: true,
      clearOnComplete: false,
      gracefulExit: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(job) {
      const payload = {
        differing: job.summary.rangesDiffering,
        keys: job.summary.keysSent + job.summary.keysReceived,
      };
      if (!started) {
        bar.start(Math.max(job.progress.ranges, 1), job.summary.rangesCompared, payload);
        started = true;
      } else {
        bar.update(job.summary.rangesCompared, payload);
      }
    },
    finish() {
      if (started) bar.stop();
    },
  };
}

/** A range as the ring names it: two tokens of 16 lowercase hex digits. */
const RANGE_TEXT = /^[0-9a-f]{16}:[0-9a-f]{16}$/;

interface RepairCommandValues {
  readonly node?: string;
  readonly json?: boolean;
  readonly dryRun?: boolean;
  readonly range?: string;
}

export function registerRepairCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("repair")
    .description(
      "run anti-entropy repair now for every range the node replicates, against every other replica",
    )
    .option("--node <url>", "the node to repair (default: GRAPEVINE_NODE or http://127.0.0.1:7001)")
    .option("--json", "print the final repair job as JSON")
    .option("--dry-run", "compare and show what would move, without moving it")
    .option(
      "--range <start:end>",
      "repair only this range of the ring, start:end as GET /cluster/ring names it",
    )
    .action(async (values: RepairCommandValues) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      if (values.range !== undefined && !RANGE_TEXT.test(values.range))
        throw new CliError(
          "--range takes start:end, two 16-hex-digit tokens as GET /cluster/ring names them",
          EXIT_CODES.usage,
        );
      // Scripts that asked for JSON get no progress lines off a terminal: stderr stays for errors.
      const display =
        values.json === true && !isTerminal(process.stderr)
          ? { update: (): void => undefined, finish: (): void => undefined }
          : progressDisplay(process.stderr, output);
      let job: RepairJobBody;
      try {
        job = await runRepair({
          nodeUrl,
          dryRun: values.dryRun === true,
          ...(values.range === undefined ? {} : { range: values.range }),
          onProgress: (update) => display.update(update),
        });
      } finally {
        display.finish();
      }
      output.out(values.json === true ? `${JSON.stringify(job)}\n` : renderRepairSummary(job));
      if (job.state !== "done")
        throw new CliError(`repair ${job.id} failed with ${job.failures.length} replica(s)`);
      setExit(EXIT_CODES.ok);
    });
}
