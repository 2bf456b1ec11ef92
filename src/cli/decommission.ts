// cli/decommission.ts — `grapevine decommission [--node URL]` (SPEC §1): the node streams its data
// to the new owners, leaves the ring and exits. The command starts it (POST /admin/decommission),
// shows the streams' progress on stderr, and exits 0 once the node has left (1 if it failed or was
// refused, with the node's reason: another ring change in progress, too few members).

import type { Command } from "commander";
import { processEnvironment, resolveNodeUrl } from "../node/config.js";
import { CliError, EXIT_CODES, humanBytes, type CliOutput, type ExitCode } from "./shared.js";
import { call, follow, refusal, Unreachable } from "./ring-change-client.js";

export function registerDecommissionCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  program
    .command("decommission")
    .description("stream this node's data to the new owners, leave the ring, and exit")
    .option(
      "--node <url>",
      "the node to decommission (default: GRAPEVINE_NODE or http://127.0.0.1:7001)",
    )
    .action(async (values: { node?: string }) => {
      const nodeUrl = resolveNodeUrl(values.node, processEnvironment());
      // Who the node is and who its peers are, to confirm it left once it stops answering.
      const status = await call(nodeUrl, "GET", "/cluster/status").catch((error: unknown) => {
        throw new CliError(error instanceof Error ? error.message : String(error));
      });
      const body = status.json as {
        node?: unknown;
        members?: { id: string; address: string; state: string }[];
      } | null;
      const self = typeof body?.node === "string" ? body.node : null;
      if (status.status !== 200 || self === null)
        throw new CliError(`${nodeUrl}/cluster/status: ${refusal(status)}`);
      const peers = (body?.members ?? []).filter(
        (member) => member.id !== self && member.state === "normal",
      );

      const answer = await call(nodeUrl, "POST", "/admin/decommission").catch((error: unknown) => {
        throw new CliError(error instanceof Error ? error.message : String(error));
      });
      if (answer.status !== 202) throw new CliError(`decommission refused: ${refusal(answer)}`);
      output.err(`decommissioning ${self}\n`);
      const leftPeersSay = async (): Promise<boolean> => {
        for (const peer of peers) {
          try {
            const view = await call(
              `${new URL(nodeUrl).protocol}//${peer.address}`,
              "GET",
              "/cluster/status",
            );
            const member = (
              view.json as { members?: { id: string; state: string }[] } | null
            )?.members?.find((m) => m.id === self);
            if (member === undefined || member.state === "left") return true;
            return false;
          } catch (error) {
            if (!(error instanceof Unreachable)) throw error;
          }
        }
        return false;
      };
      const change = await follow(nodeUrl, `decommission ${self}`, output, leftPeersSay);
      const summary =
        change === null
          ? ""
          : ` (${change.keys.toLocaleString("en-US")} keys, ${humanBytes(change.bytes)} streamed in ${change.seconds ?? "?"} s)`;
      output.out(`${self} left the ring${summary}\n`);
      setExit(EXIT_CODES.ok);
    });
}
