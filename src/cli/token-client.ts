// cli/token-client.ts — the bearer token of the commands that talk to nodes (issue 18 §3): read
// from `--token-file FILE` or the environment (GRAPEVINE_TOKEN_FILE naming a file, or
// GRAPEVINE_TOKEN holding the token), never from the command line itself, where `ps` would show it.
// Like cli/tls-client.ts, it is read once before the command's action (a commander preAction hook)
// and kept here; every request then carries it, and the X-Grapevine-Request header that tells a
// node the request is not a browser's cross-site one (security/route-access.ts).

import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { processEnvironment } from "../node/config.js";
import { REQUEST_HEADER } from "../security/route-access.js";
import { parseToken, TOKEN_PREFIX } from "../security/tokens.js";
import { CliError } from "./shared.js";
import { addCertsDirOption } from "./tls-client.js";

export const TOKEN_ENV = "GRAPEVINE_TOKEN";
export const TOKEN_FILE_ENV = "GRAPEVINE_TOKEN_FILE";
/** A token file holds one line of ~100 characters; anything far larger is not one. */
const TOKEN_FILE_BYTES_MAX = 4096;

let current: string | null = null;

/** The headers every request of a command carries: its token, and the not-cross-site marker. */
export function authHeaders(): Record<string, string> {
  return {
    [REQUEST_HEADER]: "grapevine-cli",
    ...(current === null ? {} : { authorization: `Bearer ${current}` }),
  };
}

/** The command's token for the client library's `token` option; nothing without one. */
export function tokenOption(): { token?: string } {
  return current === null ? {} : { token: current };
}

/** The token a file holds; a CliError naming the problem when it holds none. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > TOKEN_FILE_BYTES_MAX) throw new Error("too large to hold a token");
    text = bytes.toString("utf8");
  } catch (error) {
    throw new CliError(`--token-file: cannot read ${file}: ${(error as Error).message}`);
  }
  return checkedToken(text, `--token-file ${file}`);
}

function checkedToken(text: string, where: string): string {
  if (parseToken(text) === null)
    throw new CliError(`${where} does not hold a token (${TOKEN_PREFIX}<id>_<secret>)`);
  return text.trim();
}

async function useToken(command: Command): Promise<void> {
  const env = processEnvironment();
  const given = command.getOptionValue("tokenFile") as string | undefined;
  const file = given ?? (env[TOKEN_FILE_ENV] === "" ? undefined : env[TOKEN_FILE_ENV]);
  if (file !== undefined) current = await readTokenFile(file);
  else {
    const text = env[TOKEN_ENV];
    current = text === undefined || text === "" ? null : checkedToken(text, TOKEN_ENV);
  }
}

/** Adds `--token-file` to a command that talks to nodes, read before its action runs. */
export function addTokenOption(command: Command): Command {
  return command
    .option(
      "--token-file <file>",
      `authenticate with the bearer token in FILE (default: ${TOKEN_FILE_ENV}, or the token itself in ${TOKEN_ENV}; none: the client certificate of --certs-dir, if any)`,
    )
    .hook("preAction", useToken);
}

/**
 * `--node`, `--certs-dir` and `--token-file` on a subcommand (`token create`, `bucket set`, …),
 * which main.ts's list of top-level commands does not reach.
 */
export function withNodeCredentials(command: Command, nodeDescription: string): Command {
  return addTokenOption(addCertsDirOption(command.option("--node <url>", nodeDescription)));
}
