// cli/future-records.ts — `grapevine future-records list|restamp|purge [--node URL]
// [--only-this-node] [--json]`: finds the records stored with timestamps from the future (more than
// the node's --max-clock-offset-ms ahead of its clock; issue 14 §2) and, with restamp or purge,
// fixes them.
//
// Cluster-wide by default: the command asks --node for the ring's members (GET /cluster/status) and
// runs POST /admin/future-records page by page on every member that is not `left`. A fix must reach
// every replica: a replica still holding the future record would win every read that asks it, and
// replicas refuse to copy such a record, so repair would never fix it. A member that cannot be
// reached is reported and the command exits 1 (run it again once the member is back).
// `--only-this-node` limits it to --node (e.g. a node just restored from a backup).

import type { Command } from "commander";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, jsonOrNull, type CliOutput, type ExitCode } from "./shared.js";
import { Unreachable } from "./ring-change-client.js";
import { Agent, request } from "undici";
import { tlsConnect } from "./tls-client.js";
import { authHeaders } from "./token-client.js";

export const FUTURE_RECORDS_CLI_LIMITS = {
  /** One page's deadline: a page scans at most the node's scanRecordsMax records. */
  requestTimeoutMs: 60_000,
  /** Records listed per node in the human output; --json lists all. */
  listedPerNodeMax: 20,
  bodyBytesMax: 64 * 1024 * 1024,
} as const;

const ACTIONS = ["list", "restamp", "purge"] as const;
type Action = (typeof ACTIONS)[number];

interface PageReply {
  readonly node: string;
  readonly scanned: number;
  readonly found: readonly {
    readonly key: string;
    readonly timestampUs: number;
    readonly aheadMs: number;
    readonly writer: string;
    readonly tombstone: boolean;
  }[];
  readonly restamped: number;
  readonly purged: number;
  readonly next: string | null;
}

export interface NodeReport {
  readonly node: string;
  readonly url: string;
  readonly scanned: number;
  readonly found: PageReply["found"][number][];
  readonly restamped: number;
  readonly purged: number;
  readonly error: string | null;
}

async function postJson(
  url: string,
  path: string,
  body: unknown,
  agent: Agent,
): Promise<{ status: number; json: unknown }> {
  let response;
  try {
    response = await request(`${url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      dispatcher: agent,
      headers: {
        ...authHeaders(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(FUTURE_RECORDS_CLI_LIMITS.requestTimeoutMs),
    });
  } catch (error) {
    throw new Unreachable(
      `cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const text = await response.body.text();
  if (text.length > FUTURE_RECORDS_CLI_LIMITS.bodyBytesMax)
    throw new CliError(`${url}${path} sent too much`);
  return { status: response.statusCode, json: jsonOrNull(text) };
}

function isPageReply(value: unknown): value is PageReply {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["node"] === "string" &&
    typeof v["scanned"] === "number" &&
    Array.isArray(v["found"]) &&
    (v["next"] === null || typeof v["next"] === "string")
  );
}

/** Every page of one node. */
export async function runOnNode(url: string, action: Action, agent: Agent): Promise<NodeReport> {
  const report = {
    node: url,
    url,
    scanned: 0,
    found: [] as PageReply["found"][number][],
    restamped: 0,
    purged: 0,
    error: null as string | null,
  };
  let after: string | null = null;
  try {
    do {
      const answer = await postJson(
        url,
        "/admin/future-records",
        { action, ...(after === null ? {} : { after }) },
        agent,
      );
      if (answer.status !== 200 || !isPageReply(answer.json)) {
        const message = (answer.json as { message?: unknown } | null)?.message;
        throw new Error(
          `${url} answered ${answer.status}${typeof message === "string" ? `: ${message}` : ""}`,
        );
      }
      const page = answer.json;
      report.node = page.node;
      report.scanned += page.scanned;
      report.found.push(...page.found);
      report.restamped += page.restamped;
      report.purged += page.purged;
      after = page.next;
    } while (after !== null);
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
  }
  return report;
}

/** The URLs of every member --node knows that has not left the ring. */
async function memberUrls(nodeUrl: string, agent: Agent): Promise<string[]> {
  const answer = await postJson(nodeUrl, "/cluster/status", undefined, agent);
  const members = (answer.json as { members?: unknown } | null)?.members;
  if (answer.status !== 200 || !Array.isArray(members))
    throw new CliError(`${nodeUrl} did not answer its cluster status`);
  const scheme = new URL(nodeUrl).protocol;
  return members
    .filter(
      (member: { state?: unknown; address?: unknown }) =>
        member.state !== "left" && typeof member.address === "string",
    )
    .map((member: { address: string }) => `${scheme}//${member.address}`);
}

function render(action: Action, reports: readonly NodeReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    if (report.error !== null) {
      lines.push(`${report.node}: FAILED: ${report.error}`);
      continue;
    }
    const done =
      action === "restamp"
        ? `, ${report.restamped} restamped`
        : action === "purge"
          ? `, ${report.purged} purged`
          : "";
    lines.push(
      `${report.node}: ${report.found.length} records from the future among ${report.scanned} scanned${done}`,
    );
    for (const found of report.found.slice(0, FUTURE_RECORDS_CLI_LIMITS.listedPerNodeMax)) {
      lines.push(
        `  ${JSON.stringify(found.key)}  ${found.aheadMs} ms ahead  writer ${found.writer}${found.tombstone ? "  (tombstone)" : ""}`,
      );
    }
    if (report.found.length > FUTURE_RECORDS_CLI_LIMITS.listedPerNodeMax) {
      lines.push(
        `  … and ${report.found.length - FUTURE_RECORDS_CLI_LIMITS.listedPerNodeMax} more (--json lists all)`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function registerFutureRecordsCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("future-records")
    .description(
      "list, restamp or purge records stamped further ahead than --max-clock-offset-ms, on every member",
    )
    .argument("[action]", "list (default), restamp (rewrite stamped now) or purge (delete)", "list")
    .option(
      "--node <url>",
      "a node to learn the members from (default: GRAPEVINE_NODE or http://127.0.0.1:7001)",
    )
    .option("--only-this-node", "act on --node's replica only, not on every member")
    .option("--json", "print one JSON object with every node's report")
    .action(
      async (action: string, values: { node?: string; onlyThisNode?: boolean; json?: boolean }) => {
        if (!(ACTIONS as readonly string[]).includes(action)) {
          throw new CliError(
            `the action is one of ${ACTIONS.join(", ")}, got ${JSON.stringify(action)}`,
            EXIT_CODES.usage,
          );
        }
        const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
        const agent = new Agent({ connect: { timeout: 10_000, ...tlsConnect() } });
        try {
          const urls =
            values.onlyThisNode === true
              ? [nodeUrl]
              : await memberUrls(nodeUrl, agent).catch((error: unknown) => {
                  throw error instanceof CliError
                    ? error
                    : new CliError(error instanceof Error ? error.message : String(error));
                });
          const reports: NodeReport[] = [];
          // One node at a time: each page already keeps that node's disk busy.
          for (const url of urls) reports.push(await runOnNode(url, action as Action, agent));
          output.out(
            values.json === true
              ? `${JSON.stringify({ action, nodes: reports })}\n`
              : render(action as Action, reports),
          );
          const failed = reports.filter((report) => report.error !== null);
          if (failed.length > 0)
            throw new CliError(
              `${failed.length} of ${reports.length} nodes failed; run the command again once they are reachable`,
            );
          setExit(EXIT_CODES.ok);
        } finally {
          await agent.close().catch(() => undefined);
        }
      },
    );
}
