// `grapevine put --ttl` against a small stand-in for a node's PUT /kv route: the TTL travels as
// X-Grapevine-TTL, none is sent without the flag, and a bad one is a usage error (exit 2) before
// anything is sent.

import { Command } from "commander";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KvIo } from "../../../src/cli/kv-client.js";
import { registerPutCommand } from "../../../src/cli/put.js";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "../../../src/cli/shared.js";

let server: FastifyInstance;
let nodeUrl: string;
const received: (string | undefined)[] = [];

beforeAll(async () => {
  server = Fastify();
  server.removeAllContentTypeParsers();
  server.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });
  server.put("/kv/:key", async (request, reply) => {
    const ttl = request.headers["x-grapevine-ttl"];
    received.push(Array.isArray(ttl) ? ttl.join(",") : ttl);
    return reply.code(204).send();
  });
  nodeUrl = await server.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await server.close();
});

async function put(...flags: string[]): Promise<ExitCode | null> {
  const io: KvIo = {
    readStdin: () => Promise.resolve(Buffer.alloc(0)),
    writeStdout: () => undefined,
    stdoutIsTerminal: () => false,
  };
  const output: CliOutput = { out: () => undefined, err: () => undefined };
  let exit: ExitCode | null = null;
  const program = new Command("grapevine").exitOverride();
  registerPutCommand(program, output, (code) => (exit = code), io);
  await program.parseAsync(["put", "k", "v", "--node", nodeUrl, ...flags], { from: "user" });
  return exit;
}

describe("grapevine put --ttl", () => {
  it("sends the TTL as X-Grapevine-TTL, and no header without the flag", async () => {
    received.length = 0;
    expect(await put("--ttl", "60")).toBe(EXIT_CODES.ok);
    expect(await put("--ttl", "0")).toBe(EXIT_CODES.ok);
    expect(await put()).toBe(EXIT_CODES.ok);
    expect(received).toEqual(["60", "0", undefined]);
  });

  it("refuses a bad TTL as a usage error without sending anything", async () => {
    received.length = 0;
    for (const bad of ["-1", "1.5", "soon", "315360001"]) {
      const refused = put("--ttl", bad);
      await expect(refused).rejects.toBeInstanceOf(CliError);
      await expect(refused).rejects.toMatchObject({ exitCode: EXIT_CODES.usage });
    }
    expect(received).toEqual([]);
  });
});
