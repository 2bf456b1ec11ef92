// cli/del.ts — `grapevine del KEY` (SPEC §1): deletes the key (a tombstone on at least `--w`
// replicas) through `--node`'s client API. Prints nothing on success; deleting an absent key
// succeeds too (a delete is a write). A refusal or an unreachable node is one stderr line and exit
// 1.

import type { Command } from "commander";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";
import {
  addNodeOption,
  checkKey,
  checkLevel,
  describeRefusal,
  kvRequest,
  nodeUrlOf,
  type KvCommandOptions,
} from "./kv-client.js";

interface DelOptions extends KvCommandOptions {
  readonly w?: string;
}

export function registerDelCommand(
  program: Command,
  _output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const command = program
    .command("del")
    .description("delete a key")
    .argument("<key>", "the key, 1 to 1024 bytes of UTF-8")
    .option("--w <level>", "write consistency: one, quorum, all or a count (default: the node's)");
  addNodeOption(command);
  command.action(async (key: string, options: DelOptions) => {
    checkKey(key);
    const w = checkLevel("--w", options.w);
    const answer = await kvRequest({
      nodeUrl: nodeUrlOf(options),
      method: "DELETE",
      key,
      query: { w },
    });
    if (answer.status !== 204 && answer.status !== 200)
      throw new CliError(`del failed: ${describeRefusal(answer)}`);
    setExit(EXIT_CODES.ok);
  });
}
