// `grapevine get` against a small stand-in for a node's GET /kv route: a pipe gets the value's
// exact bytes; a terminal gets a newline after a value that lacks one, so the prompt starts on its
// own line.

import Fastify, { type FastifyInstance } from "fastify";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerGetCommand } from "../../../src/cli/get.js";
import type { KvIo } from "../../../src/cli/kv-client.js";
import type { CliOutput, ExitCode } from "../../../src/cli/shared.js";

const VALUES: Readonly<Record<string, string>> = { plain: "hello", lined: "hello\n", empty: "" };

let server: FastifyInstance;
let nodeUrl: string;

beforeAll(async () => {
  server = Fastify();
  server.get("/kv/:key", async (request, reply) => {
    const value = VALUES[(request.params as { key: string }).key];
    if (value === undefined)
      return reply.code(404).send({ error: "not_found", message: "the key has no value" });
    return reply.type("application/octet-stream").send(Buffer.from(value));
  });
  nodeUrl = await server.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await server.close();
});

async function get(
  key: string,
  terminal: boolean,
): Promise<{ stdout: string; exit: ExitCode | null }> {
  const written: Buffer[] = [];
  const io: KvIo = {
    readStdin: () => Promise.resolve(Buffer.alloc(0)),
    writeStdout: (bytes) => written.push(Buffer.from(bytes)),
    stdoutIsTerminal: () => terminal,
  };
  const output: CliOutput = { out: () => undefined, err: () => undefined };
  let exit: ExitCode | null = null;
  const program = new Command("grapevine").exitOverride();
  registerGetCommand(program, output, (code) => (exit = code), io);
  await program.parseAsync(["get", key, "--node", nodeUrl], { from: "user" });
  return { stdout: Buffer.concat(written).toString("utf8"), exit };
}

describe("grapevine get", () => {
  it("writes the value's exact bytes to a pipe", async () => {
    expect(await get("plain", false)).toEqual({ stdout: "hello", exit: 0 });
    expect(await get("empty", false)).toEqual({ stdout: "", exit: 0 });
  });

  it("ends the value with one newline on a terminal, and adds none to a value that has it", async () => {
    expect(await get("plain", true)).toEqual({ stdout: "hello\n", exit: 0 });
    expect(await get("lined", true)).toEqual({ stdout: "hello\n", exit: 0 });
    expect(await get("empty", true)).toEqual({ stdout: "\n", exit: 0 });
  });
});
