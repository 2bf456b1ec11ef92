// cli/token.ts — `grapevine token create --role R [--lifetime-days N]`, `token list` and `token
// revoke ID` (issue 18 §3), through any node's admin routes (api/token-routes.ts). `create` prints
// the token alone on stdout (so `grapevine token create --role reader > reader.token` keeps it)
// and its id, role and expiry on stderr; the token is shown this once.
//
// Each takes a credential like every command that talks to nodes: --token-file (an admin token) or
// --certs-dir. Run on a node's machine with the node's certs dir, `create` presents the node's
// certificate (cli/tls-client.ts), which the node accepts for creating a token: that is how the
// first admin token is made.

import type { Command } from "commander";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { isRole, ROLES } from "../security/roles.js";
import { TOKENS_PATH } from "../security/route-access.js";
import { TOKEN_LIMITS } from "../security/tokens.js";
import { CliError, EXIT_CODES, parseIntegerFlag } from "./shared.js";
import type { CliOutput, ExitCode } from "./shared.js";
import { nodeJson } from "./node-json.js";
import { withNodeCredentials } from "./token-client.js";

const NODE_OPTION = "the node to ask (default: GRAPEVINE_NODE or its default)";

interface TokenInfo {
  readonly id: string;
  readonly role: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revoked: boolean;
}

function describe(info: TokenInfo): string {
  const state = info.revoked ? "revoked" : `expires ${info.expiresAt}`;
  return `${info.id}  ${info.role.padEnd(6)}  created ${info.createdAt}  ${state}`;
}

function registerCreate(token: Command, output: CliOutput, setExit: (c: ExitCode) => void): void {
  const create = token
    .command("create")
    .description("make a bearer token; prints it once (store it in a file, mode 0600)")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option(
      "--lifetime-days <n>",
      `days until it expires (default ${TOKEN_LIMITS.lifetimeDaysDefault}, at most ${TOKEN_LIMITS.lifetimeDaysMax})`,
    )
    .action(async (values: { node?: string; role: string; lifetimeDays?: string }) => {
      if (!isRole(values.role))
        throw new CliError(`--role must be one of ${ROLES.join(", ")}`, EXIT_CODES.usage);
      const lifetimeDays =
        values.lifetimeDays === undefined
          ? undefined
          : parseIntegerFlag(
              "--lifetime-days",
              values.lifetimeDays,
              1,
              TOKEN_LIMITS.lifetimeDaysMax,
            );
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      const body = { role: values.role, ...(lifetimeDays === undefined ? {} : { lifetimeDays }) };
      const made = (await nodeJson(nodeUrl, "POST", TOKENS_PATH, body)) as TokenInfo & {
        token: string;
      };
      output.out(`${made.token}\n`);
      output.err(`token ${describe(made)}\n`);
      setExit(EXIT_CODES.ok);
    });
  withNodeCredentials(create, NODE_OPTION);
}

export function registerTokenCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const token = program
    .command("token")
    .description("bearer tokens for clients and operators: create, list, revoke");
  registerCreate(token, output, setExit);
  const list = token
    .command("list")
    .description("every token: id, role, creation, expiry or revocation (never a secret)")
    .option("--json", "print the node's JSON answer")
    .action(async (values: { node?: string; json?: boolean }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      const answer = (await nodeJson(nodeUrl, "GET", TOKENS_PATH)) as { tokens: TokenInfo[] };
      if (values.json === true) output.out(`${JSON.stringify(answer, null, 2)}\n`);
      else for (const info of answer.tokens) output.out(`${describe(info)}\n`);
      setExit(EXIT_CODES.ok);
    });
  withNodeCredentials(list, NODE_OPTION);
  const revoke = token
    .command("revoke <id>")
    .description("revoke a token on every node (gossip spreads it within seconds)")
    .action(async (id: string, values: { node?: string }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      const path = `${TOKENS_PATH}/${encodeURIComponent(id)}`;
      const revoked = (await nodeJson(nodeUrl, "DELETE", path)) as TokenInfo;
      output.out(`${describe(revoked)}\n`);
      setExit(EXIT_CODES.ok);
    });
  withNodeCredentials(revoke, NODE_OPTION);
}
