// cli/stop.ts — `grapevine stop [--node URL]` (issue 21 §3): stop a node cleanly, as SIGTERM does,
// from anywhere its HTTP port is reachable (a container's orchestrator, a script on another host).
// The node answers 202 and then drains (node/shutdown.ts): /ready 503, its shutdown announced so
// its peers show it down at once, new connections refused, requests in flight finished, the store
// closed, exit 0. The command waits until the node no longer answers and exits 0; 1 when the node
// cannot be reached, refuses, or still answers after STOP_LIMITS.waitMs. A node already stopping
// (503 `draining`) counts as stopping.

import type { Command } from "commander";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";
import { call, refusal, sleep, Unreachable } from "./ring-change-client.js";
import { START_LIMITS } from "./start.js";

/**
 * api/stop-routes.ts's STOP_PATH; cli/ may not import api/ (architecture.test.ts), so the path is
 * named here too.
 */
const STOP_PATH = "/admin/stop";

export const STOP_LIMITS = {
  /**
   * The node's own shutdown gives up after START_LIMITS.shutdownTimeoutMs; the command waits a
   * little longer.
   */
  waitMs: START_LIMITS.shutdownTimeoutMs + 5_000,
  /** How often the command looks whether the node still answers. */
  pollMs: 100,
} as const;

/** Whether the node still answers /health. */
async function answers(nodeUrl: string): Promise<boolean> {
  try {
    await call(nodeUrl, "GET", "/health");
    return true;
  } catch (error) {
    if (error instanceof Unreachable) return false;
    throw error;
  }
}

function isDraining(json: unknown): boolean {
  return (
    typeof json === "object" &&
    json !== null &&
    (json as { reason?: unknown }).reason === "draining"
  );
}

export function registerStopCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("stop")
    .description("stop a node cleanly, as SIGTERM does: drain, tell its peers, exit")
    .option("--node <url>", "the node to stop (default: GRAPEVINE_NODE or http://127.0.0.1:7001)")
    .action(async (values: { node?: string }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      const answer = await call(nodeUrl, "POST", STOP_PATH).catch((error: unknown) => {
        throw new CliError(error instanceof Error ? error.message : String(error));
      });
      if (answer.status !== 202 && !(answer.status === 503 && isDraining(answer.json))) {
        throw new CliError(`stop refused: ${refusal(answer)}`);
      }
      const id = (answer.json as { node?: unknown } | null)?.node;
      const name = typeof id === "string" ? id : nodeUrl;
      output.err(`stopping ${name}\n`);
      const deadline = Date.now() + STOP_LIMITS.waitMs;
      while (await answers(nodeUrl)) {
        if (Date.now() > deadline)
          throw new CliError(
            `${name} still answers ${STOP_LIMITS.waitMs} ms after it was asked to stop`,
          );
        await sleep(STOP_LIMITS.pollMs);
      }
      output.out(`${name} stopped\n`);
      setExit(EXIT_CODES.ok);
    });
}
