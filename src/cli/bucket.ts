// cli/bucket.ts — `grapevine bucket list|get BUCKET|set BUCKET PROP=VALUE…` (issue 17 §2): bucket
// properties through any node (api/bucket-routes.ts). `set` sends only the properties named;
// VALUE `null` resets one, numbers are sent as numbers. Prints the node's JSON answer; exit 1 when
// the node refuses (its message on stderr), 2 on bad usage.

import type { Command } from "commander";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";
import { nodeJson } from "./node-json.js";
import { withNodeCredentials } from "./token-client.js";

/** The node's answer, indented for a person. */
async function send(nodeUrl: string, method: "GET" | "PUT", path: string, body?: object) {
  return JSON.stringify(await nodeJson(nodeUrl, method, path, body), null, 2);
}

/** `r=quorum ttlSeconds=60 pr=null` → {r: "quorum", ttlSeconds: 60, pr: null}. */
export function patchOfArguments(assignments: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const at = assignment.indexOf("=");
    if (at < 1) throw new CliError(`expected PROP=VALUE, got ${assignment}`, EXIT_CODES.usage);
    const value = assignment.slice(at + 1);
    patch[assignment.slice(0, at)] =
      value === "null" ? null : /^[0-9]+$/.test(value) ? Number(value) : value;
  }
  return patch;
}

export function registerBucketCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const bucket = program.command("bucket").description("bucket properties: list, get, set");
  const node = (values: { node?: string }) => resolveNodeUrl(values.node, processEnvironment());
  const nodeOption = "the node to ask (default: GRAPEVINE_NODE or http://127.0.0.1:7001)";
  withNodeCredentials(
    bucket.command("list").description("every bucket with properties set"),
    nodeOption,
  ).action(async (values: { node?: string }) => {
    output.out(`${await send(node(values), "GET", "/buckets")}\n`);
    setExit(EXIT_CODES.ok);
  });
  withNodeCredentials(
    bucket
      .command("get <bucket>")
      .description("a bucket's properties: in effect, set, and their version"),
    nodeOption,
  ).action(async (name: string, values: { node?: string }) => {
    const path = `/buckets/${encodeURIComponent(name)}/props`;
    output.out(`${await send(node(values), "GET", path)}\n`);
    setExit(EXIT_CODES.ok);
  });
  withNodeCredentials(
    bucket
      .command("set <bucket> <assignments...>")
      .description("change properties, e.g. w=all r=quorum ttlSeconds=3600 pr=null"),
    nodeOption,
  ).action(async (name: string, assignments: string[], values: { node?: string }) => {
    const path = `/buckets/${encodeURIComponent(name)}/props`;
    const patch = patchOfArguments(assignments);
    output.out(`${await send(node(values), "PUT", path, patch)}\n`);
    setExit(EXIT_CODES.ok);
  });
}
