// cli/node-json.ts — one JSON request of an admin command (`token`, `bucket`) to a node, through
// the CLI's one node call (cli/ring-change-client.ts: TLS, token, deadline, bounded answer). A node
// that cannot be reached, or that refuses, is a CliError naming it (one line on stderr, exit 1).

import { call, refusal, Unreachable } from "./ring-change-client.js";
import { CliError } from "./shared.js";

/** The node's JSON answer to a 2xx; a CliError with the node's message for anything else. */
export async function nodeJson(
  nodeUrl: string,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: object,
): Promise<unknown> {
  let answer;
  try {
    answer = await call(nodeUrl, method, path, body);
  } catch (error) {
    if (error instanceof Unreachable) throw new CliError(error.message);
    throw error;
  }
  if (answer.status >= 300) throw new CliError(`${nodeUrl} refused: ${refusal(answer)}`);
  return answer.json;
}
