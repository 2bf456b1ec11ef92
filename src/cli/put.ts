// cli/put.ts — `grapevine put KEY [VALUE]` (SPEC §1): stores VALUE, or all of stdin when VALUE is
// left out, under KEY through `--node`'s client API at `--w` (the node's default when absent), with
// `--content-type` (application/octet-stream by default), and with `--ttl SECONDS` as
// X-Grapevine-TTL (issue 17 §3; 0: never expires, overriding the bucket's ttlSeconds). Prints
// nothing on success; a refusal or an unreachable node is one stderr line and exit 1, a bad KEY,
// level or TTL exit 2.

import type { Command } from "commander";
import { parseTtlSeconds, TTL_LIMITS } from "../storage/expiry.js";
import { EXIT_CODES, CliError, type CliOutput, type ExitCode } from "./shared.js";
import {
  addNodeOption,
  checkKey,
  checkLevel,
  describeRefusal,
  KV_CLIENT_DEFAULTS,
  KV_CLIENT_LIMITS,
  kvRequest,
  nodeUrlOf,
  processKvIo,
  type KvCommandOptions,
  type KvIo,
} from "./kv-client.js";

interface PutOptions extends KvCommandOptions {
  readonly w?: string;
  readonly contentType?: string;
  readonly ttl?: string;
}

/** --ttl as the API takes it (storage/expiry.ts parseTtlSeconds); a bad one is a usage error. */
function checkTtl(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = parseTtlSeconds(text);
  if (typeof seconds === "number") return seconds;
  throw new CliError(
    `--ttl: a whole number of seconds from 0 to ${TTL_LIMITS.ttlSecondsMax} (ten years), got ${JSON.stringify(text)}`,
    EXIT_CODES.usage,
  );
}

export function registerPutCommand(
  program: Command,
  _output: CliOutput,
  setExit: (code: ExitCode) => void,
  io: KvIo = processKvIo,
): void {
  const command = program
    .command("put")
    .description("store a value under a key (the value from stdin when VALUE is left out)")
    .argument("<key>", "the key, 1 to 1024 bytes of UTF-8")
    .argument("[value]", "the value (default: all of stdin)")
    .option("--w <level>", "write consistency: one, quorum, all or a count (default: the node's)")
    .option(
      "--content-type <type>",
      `the value's content type (default: ${KV_CLIENT_DEFAULTS.contentType})`,
    )
    .option(
      "--ttl <seconds>",
      "time to live: the value expires this many seconds after the write " +
        "(0: never; default: the bucket's ttlSeconds)",
    );
  addNodeOption(command);
  command.action(async (key: string, value: string | undefined, options: PutOptions) => {
    checkKey(key);
    const w = checkLevel("--w", options.w);
    const ttlSeconds = checkTtl(options.ttl);
    const nodeUrl = nodeUrlOf(options);
    const body =
      value !== undefined
        ? Buffer.from(value, "utf8")
        : await io.readStdin(KV_CLIENT_LIMITS.valueBytesMax);
    const answer = await kvRequest({
      nodeUrl,
      method: "PUT",
      key,
      query: { w },
      body,
      contentType: options.contentType ?? KV_CLIENT_DEFAULTS.contentType,
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    });
    if (answer.status !== 204 && answer.status !== 200)
      throw new CliError(`put failed: ${describeRefusal(answer)}`);
    setExit(EXIT_CODES.ok);
  });
}
