// cli/get.ts — `grapevine get KEY` (SPEC §1): writes the value's raw bytes to stdout, read through
// `--node`'s client API at `--r` (the node's default when absent). A key that is absent or deleted
// is one stderr line and exit 1, as is any refusal or an unreachable node; a bad KEY or level exit
// 2. On a terminal a newline follows a value that lacks one; a pipe or file gets the value's bytes
// exactly.

import type { Command } from "commander";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";
import {
  addNodeOption,
  checkKey,
  checkLevel,
  describeRefusal,
  kvRequest,
  nodeUrlOf,
  processKvIo,
  type KvCommandOptions,
  type KvIo,
} from "./kv-client.js";

const NEWLINE = 0x0a;

interface GetOptions extends KvCommandOptions {
  readonly r?: string;
}

export function registerGetCommand(
  program: Command,
  _output: CliOutput,
  setExit: (code: ExitCode) => void,
  io: KvIo = processKvIo,
): void {
  const command = program
    .command("get")
    .description("write a key's value to stdout (exit 1 when not found)")
    .argument("<key>", "the key, 1 to 1024 bytes of UTF-8")
    .option("--r <level>", "read consistency: one, quorum, all or a count (default: the node's)");
  addNodeOption(command);
  command.action(async (key: string, options: GetOptions) => {
    checkKey(key);
    const r = checkLevel("--r", options.r);
    const answer = await kvRequest({
      nodeUrl: nodeUrlOf(options),
      method: "GET",
      key,
      query: { r },
    });
    if (answer.status === 404) throw new CliError(`not found: ${JSON.stringify(key)}`);
    if (answer.status !== 200) throw new CliError(`get failed: ${describeRefusal(answer)}`);
    io.writeStdout(answer.body);
    // A pipe gets the exact bytes; a terminal gets a final newline so the shell prompt is not glued
    // to the value.
    if (io.stdoutIsTerminal() && answer.body.at(-1) !== NEWLINE)
      io.writeStdout(Uint8Array.of(NEWLINE));
    setExit(EXIT_CODES.ok);
  });
}
