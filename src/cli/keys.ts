// cli/keys.ts — `grapevine keys BUCKET [--limit N] [--r LEVEL] [--node URL]` (issue 17 §4): prints
// the bucket's live keys, one per line, as `--node` lists them (GET /buckets/:bucket/keys, NDJSON,
// page after page through the continuation token), at most `--limit` of them. Each page is read as
// it streams, so memory stays one line however large the bucket. On a terminal, stderr shows a
// progress line (keys so far), cleared at the end. A bad BUCKET, limit or level exits 2 before
// anything is sent; a refusal, an unreachable node, or a page that fails midway is one stderr line
// and exit 1.

import type { Command } from "commander";
import { Agent, request } from "undici";
import { bucketNameProblem } from "../storage/bucket-keys.js";
import { addNodeOption, checkLevel, describeRefusal, nodeUrlOf } from "./kv-client.js";
import type { KvCommandOptions } from "./kv-client.js";
import {
  CliError,
  EXIT_CODES,
  isTerminal,
  parseIntegerFlag,
  type CliOutput,
  type ExitCode,
} from "./shared.js";
import { tlsConnect } from "./tls-client.js";

export const KEYS_COMMAND_LIMITS = {
  /** Keys asked per page (the node's limit is 10000). */
  pageKeys: 1_000,
  /** A whole page's deadline: a page of 1000 keys streams in well under a second. */
  pageTimeoutMs: 60_000,
  /** One NDJSON line at most: a key of 1024 bytes escaped, or a token, or an error line. */
  lineBytesMax: 64 * 1024,
  /** --limit at most: all keys. */
  limitMax: Number.MAX_SAFE_INTEGER,
} as const;

interface KeysOptions extends KvCommandOptions {
  readonly limit?: string;
  readonly r?: string;
}

/** Where the command writes: keys to stdout, the progress line to stderr when it is a terminal. */
export interface KeysIo {
  out(text: string): void;
  progress(text: string | null): void;
}

const processKeysIo: KeysIo = {
  out: (text) => process.stdout.write(text),
  progress: (text) => {
    if (!isTerminal(process.stderr)) return;
    process.stderr.write(text === null ? "\r\x1b[K" : `\r\x1b[K${text}`);
  },
};

function pageUrl(nodeUrl: string, bucket: string, after: string | null, r?: string): string {
  const query = new URLSearchParams({ limit: String(KEYS_COMMAND_LIMITS.pageKeys) });
  if (after !== null) query.set("after", after);
  if (r !== undefined) query.set("r", r);
  return `${nodeUrl}/buckets/${encodeURIComponent(bucket)}/keys?${query.toString()}`;
}

/** The lines of a streamed body, each at most lineBytesMax. */
async function* linesOf(body: AsyncIterable<unknown>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of body) {
    pending += (chunk as Buffer).toString("utf8");
    let end = pending.indexOf("\n");
    while (end >= 0) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
      end = pending.indexOf("\n");
    }
    if (pending.length > KEYS_COMMAND_LIMITS.lineBytesMax)
      throw new CliError("the node sent a line longer than any key listing line");
  }
  if (pending.length > 0) yield pending;
}

interface PageEnd {
  readonly printed: number;
  readonly next: string | null;
}

/** Streams one page's keys to the output; its end says where the next page starts. */
async function printPage(
  url: string,
  agent: Agent,
  budget: number,
  print: (key: string) => void,
): Promise<PageEnd> {
  const timeoutMs = KEYS_COMMAND_LIMITS.pageTimeoutMs;
  const response = await request(url, {
    dispatcher: agent,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.statusCode !== 200) {
    const body = Buffer.from(await response.body.arrayBuffer());
    throw new CliError(
      `keys failed: ${describeRefusal({ ...response, status: response.statusCode, contentType: undefined, timestamp: undefined, body })}`,
    );
  }
  let printed = 0;
  for await (const line of linesOf(response.body)) {
    const fields = JSON.parse(line) as Record<string, unknown>;
    if (typeof fields.key === "string") {
      print(fields.key);
      printed += 1;
      if (printed >= budget) {
        response.body.destroy();
        return { printed, next: null };
      }
    } else if (typeof fields.next === "string") return { printed, next: fields.next };
    else if (fields.done === true) return { printed, next: null };
    else
      throw new CliError(
        `keys failed midway: ${String(fields.error)}: ${String(fields.message)} (retry to list again)`,
      );
  }
  throw new CliError("keys failed: the node ended a page without its last line");
}

export function registerKeysCommand(
  program: Command,
  _output: CliOutput,
  setExit: (code: ExitCode) => void,
  io: KeysIo = processKeysIo,
): void {
  const command = program
    .command("keys")
    .description("print a bucket's live keys, one per line")
    .argument("<bucket>", "the bucket (default: the keys of /kv)")
    .option("--limit <n>", "print at most this many keys (default: all)")
    .option("--r <level>", "replicas read per range: one, quorum, all or a count");
  addNodeOption(command);
  command.action(async (bucket: string, options: KeysOptions) => {
    const problem = bucketNameProblem(bucket);
    if (problem !== null) throw new CliError(`BUCKET: ${problem}`, EXIT_CODES.usage);
    const limit =
      options.limit === undefined
        ? KEYS_COMMAND_LIMITS.limitMax
        : parseIntegerFlag("--limit", options.limit, 1, KEYS_COMMAND_LIMITS.limitMax);
    const r = checkLevel("--r", options.r);
    const nodeUrl = nodeUrlOf(options);
    const agent = new Agent({ connect: { ...tlsConnect() } });
    let listed = 0;
    let after: string | null = null;
    try {
      do {
        const url = pageUrl(nodeUrl, bucket, after, r);
        const end: PageEnd = await printPage(url, agent, limit - listed, (key) =>
          io.out(`${key}\n`),
        ).catch((error: unknown) => {
          if (error instanceof CliError) throw error;
          throw new CliError(`keys failed: ${nodeUrl}: ${(error as Error).message}`);
        });
        listed += end.printed;
        after = listed >= limit ? null : end.next;
        io.progress(`${listed} keys`);
      } while (after !== null);
    } finally {
      io.progress(null);
      await agent.close().catch(() => undefined);
    }
    setExit(EXIT_CODES.ok);
  });
}
