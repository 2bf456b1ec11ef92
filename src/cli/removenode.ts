// cli/removenode.ts — `grapevine removenode ID [--node URL]` (SPEC §1): drop a member that is down
// for good; the survivors re-replicate its ranges. The command asks `--node` to drive the removal
// (POST /admin/removenode/ID), shows the streams' progress on stderr, and exits 0 once the member
// is gone (1 when refused — a live member, an unknown id, another ring change in progress — or
// failed).

import type { Command } from "commander";
import { NODE_ID_BYTES_MAX } from "../core/limits.js";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, humanBytes, type CliOutput, type ExitCode } from "./shared.js";
import { call, follow, refusal } from "./ring-change-client.js";

/** A member id as the admin route accepts it (api/topology-routes.ts). */
const MEMBER_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${NODE_ID_BYTES_MAX}}$`);

export function registerRemoveNodeCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("removenode")
    .description("drop a dead member from the ring; the survivors re-replicate its ranges")
    .argument("<id>", "the member's id, as `grapevine status` shows it")
    .option(
      "--node <url>",
      "a live node to drive the removal (default: GRAPEVINE_NODE or http://127.0.0.1:7001)",
    )
    .action(async (id: string, values: { node?: string }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      if (!MEMBER_ID_PATTERN.test(id)) {
        throw new CliError(
          `a member id is 1 to ${NODE_ID_BYTES_MAX} printable characters`,
          EXIT_CODES.usage,
        );
      }
      const answer = await call(
        nodeUrl,
        "POST",
        `/admin/removenode/${encodeURIComponent(id)}`,
      ).catch((error: unknown) => {
        throw new CliError(error instanceof Error ? error.message : String(error));
      });
      if (answer.status !== 202) throw new CliError(`removenode refused: ${refusal(answer)}`);
      output.err(`removing ${id}\n`);
      const change = await follow(nodeUrl, `removenode ${id}`, output, async () => false);
      const summary =
        change === null
          ? ""
          : ` (${change.keys.toLocaleString("en-US")} keys, ${humanBytes(change.bytes)} streamed in ${change.seconds ?? "?"} s)`;
      output.out(`${id} removed${summary}\n`);
      setExit(EXIT_CODES.ok);
    });
}
