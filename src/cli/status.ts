// cli/status.ts — `grapevine status [--node URL] [--json]`: the ring as one node sees it, laid out
// like Cassandra's `nodetool status` (SPEC §1).
//
// The node's `/cluster/status` body (SPEC §3) is fetched with a deadline and checked before it is
// trusted; `--json` prints it as received. The table shows one member per row with its state code:
// U/D for up/down, then N/J/L/X for normal/joining/leaving/left (`UN` is a healthy member).

import Table from "cli-table3";
import type { Command } from "commander";
import { Agent, request } from "undici";
import { expiryWarning, servedCertNotAfter, tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, humanBytes, type CliOutput, type ExitCode } from "./shared.js";
import {
  parseChange,
  parseStreams,
  progressLine,
  type ChangeBody,
  type StreamBody,
} from "./ring-change-client.js";

export const STATUS_LIMITS = {
  /**
   * The whole request, connect to last byte: a node that cannot answer this fast is reported
   * unreachable.
   */
  requestTimeoutMs: 5_000,
  /** A status body of 1,000 members is ~250 KB; a larger one is not a node's answer. */
  bodyBytesMax: 16 * 1024 * 1024,
} as const;

export interface StatusMember {
  readonly id: string;
  readonly address: string;
  readonly state: string;
  readonly live: boolean;
  readonly phi: number | null;
  readonly generation: number;
  readonly heartbeat: number;
  readonly tokens: number;
  readonly ownership: number;
  readonly keys: number | null;
  readonly bytes: number | null;
  /**
   * The member announced a clean stop (issue 21 §3; absent from older nodes and from members up).
   */
  readonly shutdown?: boolean;
}

export interface StatusBody {
  readonly node: string;
  readonly members: readonly StatusMember[];
  /**
   * False while the node is still learning the ring after its start and refuses client requests.
   */
  readonly serving?: boolean;
  /**
   * Range streams of ring changes on the node (beyond the SPEC's fields; absent from older nodes).
   */
  readonly streams?: readonly StreamBody[];
  readonly change?: ChangeBody | null;
  /** The node's clock against its peers' (issue 14 §2; absent from older nodes). */
  readonly clock?: ClockBody;
  /** Writes held as a fallback for down replicas (issue 16 §4; absent from older nodes). */
  readonly fallbacks?: {
    readonly copies: number;
    readonly bytes: number;
    readonly bytesMax: number;
  };
  /** Peers whose bucket properties differ from the node's, as last heard (issue 17 §2). */
  readonly metadataDisagreement?: readonly string[];
}

function parseFallbacks(body: Record<string, unknown>): StatusBody["fallbacks"] | null {
  const f = body["fallbacks"] as Record<string, unknown> | null | undefined;
  if (typeof f !== "object" || f === null) return null;
  const { copies, bytes, bytesMax } = f;
  if (typeof copies !== "number" || typeof bytes !== "number" || typeof bytesMax !== "number")
    return null;
  return { copies, bytes, bytesMax };
}

/** The fallback copies the node holds: data it keeps for down replicas until they are back. */
function renderFallbacks(body: StatusBody): string[] {
  const f = body.fallbacks;
  if (f === undefined) return [];
  return [
    "",
    `Fallback copies held by ${body.node} for down replicas: ${f.copies} (${humanBytes(f.bytes)} of ${humanBytes(f.bytesMax)})`,
  ];
}

export interface ClockBody {
  readonly inRange: boolean;
  readonly maxOffsetMs: number;
  readonly peers: readonly {
    readonly id: string;
    readonly offsetMs: number;
    readonly errorMs: number;
    readonly outOfRange: boolean;
  }[];
}

function parseClock(body: Record<string, unknown>): ClockBody | null {
  const clock = body["clock"];
  if (typeof clock !== "object" || clock === null) return null;
  const c = clock as Record<string, unknown>;
  const peers = c["peers"];
  if (
    typeof c["inRange"] !== "boolean" ||
    typeof c["maxOffsetMs"] !== "number" ||
    !Array.isArray(peers)
  )
    return null;
  const valid = peers.every((peer: unknown) => {
    const p = peer as Record<string, unknown> | null;
    return (
      p !== null &&
      typeof p === "object" &&
      typeof p["id"] === "string" &&
      typeof p["offsetMs"] === "number" &&
      typeof p["errorMs"] === "number"
    );
  });
  if (!valid) return null;
  return {
    inRange: c["inRange"],
    maxOffsetMs: c["maxOffsetMs"],
    peers: peers as ClockBody["peers"],
  };
}

/** The clock offsets: a warning line when fenced, then the offset to each measured peer. */
function renderClock(body: StatusBody): string[] {
  const clock = body.clock;
  if (clock === undefined || clock.peers.length === 0) return [];
  const offsets = clock.peers
    .map(
      (peer) =>
        `${peer.id} ${peer.offsetMs >= 0 ? "+" : ""}${peer.offsetMs.toFixed(1)} ms ±${peer.errorMs.toFixed(1)}${peer.outOfRange ? " (out of range)" : ""}`,
    )
    .join(", ");
  return ["", `Clock offsets (peer minus ${body.node}, max ${clock.maxOffsetMs} ms): ${offsets}`];
}

function isNullableNumber(value: unknown): value is number | null {
  return value === null || typeof value === "number";
}

function isStatusMember(value: unknown): value is StatusMember {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m["id"] === "string" &&
    typeof m["address"] === "string" &&
    typeof m["state"] === "string" &&
    typeof m["live"] === "boolean" &&
    isNullableNumber(m["phi"]) &&
    typeof m["generation"] === "number" &&
    typeof m["tokens"] === "number" &&
    typeof m["ownership"] === "number" &&
    isNullableNumber(m["keys"] ?? null) &&
    isNullableNumber(m["bytes"] ?? null)
  );
}

/** Checks a decoded `/cluster/status` body; null when it is not one. */
export function parseStatusBody(value: unknown): StatusBody | null {
  if (typeof value !== "object" || value === null) return null;
  const body = value as Record<string, unknown>;
  const members = body["members"];
  if (typeof body["node"] !== "string" || !Array.isArray(members) || !members.every(isStatusMember))
    return null;
  const streams = parseStreams(body);
  const change = parseChange(body);
  const clock = parseClock(body);
  const fallbacks = parseFallbacks(body);
  return {
    node: body["node"],
    members: members.map((m) => ({ ...m, keys: m.keys ?? null, bytes: m.bytes ?? null })),
    ...(typeof body["serving"] === "boolean" ? { serving: body["serving"] } : {}),
    ...(streams.length > 0 ? { streams } : {}),
    ...(change !== null ? { change } : {}),
    ...(clock !== null ? { clock } : {}),
    ...(fallbacks !== null && fallbacks !== undefined ? { fallbacks } : {}),
    ...(metadataDisagreement(body) !== null
      ? { metadataDisagreement: metadataDisagreement(body) as string[] }
      : {}),
  };
}

/** Peers whose bucket properties' digest differs from the node's (issue 17 §2), or null. */
function metadataDisagreement(body: Record<string, unknown>): string[] | null {
  const metadata = body["metadata"] as { digest?: unknown; peers?: unknown } | undefined;
  if (typeof metadata !== "object" || typeof metadata.peers !== "object") return null;
  const peers = Object.entries(metadata.peers as Record<string, unknown>);
  const differing = peers.filter(([, digest]) => digest !== metadata.digest).map(([id]) => id);
  return differing.length > 0 ? differing : null;
}

const STATE_LETTERS: Readonly<Record<string, string>> = {
  normal: "N",
  joining: "J",
  leaving: "L",
  left: "X",
};

/**
 * `UN`, `DN`, `UJ`…: up/down, then the ring state's letter (`?` for a state this CLI does not
 * know).
 */
export function stateCode(member: Pick<StatusMember, "live" | "state">): string {
  return `${member.live ? "U" : "D"}${STATE_LETTERS[member.state] ?? "?"}`;
}

function formatPhi(phi: number | null): string {
  if (phi === null) return "-";
  if (!Number.isFinite(phi) || phi >= 1e6) return "inf";
  return phi.toFixed(2);
}

function formatOwnership(ownership: number): string {
  return `${(ownership * 100).toFixed(1)}%`;
}

/** The human table: a summary line, a legend, and one row per member (nodetool status's layout). */
export function renderStatus(body: StatusBody): string {
  const live = body.members.filter((member) => member.live).length;
  const lines = [
    `Cluster: ${body.members.length} members, ${live} live (as seen by ${body.node})`,
    ...(body.serving === false
      ? [
          `${body.node} has just started and is still learning the ring from gossip: it refuses client requests meanwhile (503 starting)`,
        ]
      : []),
    ...(body.clock?.inRange === false
      ? [
          `${body.node}'s clock is more than ${body.clock.maxOffsetMs} ms off from most of its peers: it refuses to coordinate writes until it is back in range (503 clock_offset)`,
        ]
      : []),
    ...(body.metadataDisagreement !== undefined
      ? [
          `bucket properties differ between ${body.node} and ${body.metadataDisagreement.join(", ")} (gossip converges them within a few rounds)`,
        ]
      : []),
    "Status=Up/Down | State=Normal/Joining/Leaving/X=left",
  ];
  const table = new Table({
    head: ["--", "ID", "Address", "Load", "Tokens", "Owns", "Phi", "Generation"],
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "  ",
    },
    // No colors: the output is read by people and by scripts alike.
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
  });
  for (const member of body.members) {
    table.push([
      stateCode(member),
      member.id,
      member.address,
      member.bytes === null ? "?" : humanBytes(member.bytes),
      String(member.tokens),
      formatOwnership(member.ownership),
      formatPhi(member.phi),
      String(member.generation),
    ]);
  }
  const rendered = table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.length > 0);
  const stopped = body.members
    .filter((member) => member.shutdown === true && !member.live)
    .map((member) => member.id);
  const shutdowns =
    stopped.length === 0
      ? []
      : ["", `Stopped cleanly (shutdown announced, tokens kept): ${stopped.join(", ")}`];
  return `${[...lines, ...rendered, ...shutdowns, ...renderClock(body), ...renderFallbacks(body), ...renderStreams(body)].join("\n")}\n`;
}

/**
 * The node's ring change and its streams, like `nodetool netstats`: one line per stream still
 * running.
 */
function renderStreams(body: StatusBody): string[] {
  const lines: string[] = [];
  const change = body.change;
  if (change !== undefined && change !== null) {
    const label = `${change.kind} ${change.id}`;
    const streams = body.streams ?? [];
    lines.push(
      "",
      `Ring change on ${body.node}: ${label}, ${change.state}${change.error !== null ? ` (${change.error})` : ""}`,
    );
    lines.push(`  ${progressLine(label, streams)}`);
    for (const stream of streams) {
      if (stream.change !== label || stream.state === "done") continue;
      const percent = `${(stream.progress * 100).toFixed(1)}%`;
      lines.push(
        `  stream ${stream.id} ${stream.source ?? "?"} -> ${stream.target}: ${stream.state} ${percent}, ` +
          `${stream.keys.toLocaleString("en-US")} keys, ${humanBytes(stream.bytes)}` +
          (stream.sourceChanges > 0 ? `, ${stream.sourceChanges} source changes` : ""),
      );
    }
  }
  return lines;
}

/** GETs `/cluster/status`; a CliError (exit 1) with one line when the node cannot be asked. */
export async function fetchStatus(nodeUrl: string): Promise<{ text: string; body: StatusBody }> {
  const agent = new Agent({
    connect: { timeout: STATUS_LIMITS.requestTimeoutMs, ...tlsConnect() },
    headersTimeout: STATUS_LIMITS.requestTimeoutMs,
    bodyTimeout: STATUS_LIMITS.requestTimeoutMs,
  });
  try {
    const response = await request(`${nodeUrl}/cluster/status`, {
      dispatcher: agent,
      headers: authHeaders(),
      signal: AbortSignal.timeout(STATUS_LIMITS.requestTimeoutMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > STATUS_LIMITS.bodyBytesMax)
        throw new CliError(`${nodeUrl} sent more than ${STATUS_LIMITS.bodyBytesMax} bytes`);
      chunks.push(buffer);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    if (response.statusCode !== 200) {
      throw new CliError(
        `${nodeUrl}/cluster/status answered ${response.statusCode}: ${text.slice(0, 200)}`,
      );
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(text);
    } catch {
      throw new CliError(`${nodeUrl}/cluster/status did not answer JSON`);
    }
    const body = parseStatusBody(decoded);
    if (body === null)
      throw new CliError(`${nodeUrl}/cluster/status did not answer a cluster status`);
    return { text, body };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot reach ${nodeUrl}: ${describeRequestError(error)}`);
  } finally {
    await agent.close().catch(() => undefined);
  }
}

function describeRequestError(error: unknown): string {
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code ??
    (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host";
  if (
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  ) {
    return `no answer within ${STATUS_LIMITS.requestTimeoutMs} ms`;
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${STATUS_LIMITS.requestTimeoutMs} ms`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function registerStatusCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("status")
    .description("the ring as one node sees it, like nodetool status")
    .option("--node <url>", "the node to ask (default: GRAPEVINE_NODE or http://127.0.0.1:7001)")
    .option("--json", "print the node's /cluster/status body as JSON")
    .action(async (values: { node?: string; json?: boolean }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      const { text, body } = await fetchStatus(nodeUrl);
      output.out(values.json === true ? `${text.trimEnd()}\n` : renderStatus(body));
      // Issue 18 §2: a node certificate near its end is a warning (stderr: --json stays JSON).
      const notAfter = await servedCertNotAfter(nodeUrl);
      const warning = notAfter === null ? null : expiryWarning(notAfter, new Date());
      if (warning !== null) output.err(`${warning}\n`);
      setExit(EXIT_CODES.ok);
    });
}
