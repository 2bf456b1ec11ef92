// bench/bare-server.ts — the ceiling of the data-path figures (issue 2): a bare fastify PUT/GET
// /kv/:key route storing values in a Map, in one process, with nothing else on the path (no
// replication, no disk, no logging, no validation beyond fastify's own). Whatever Grapevine reaches
// is compared with what this reaches on the same machine under the same load generator.
//
// It speaks enough of SPEC §2 for `grapevine bench` to drive it unchanged: PUT stores the body and
// its content type and answers 204 with X-Grapevine-Timestamp; GET answers 200 with the value or
// 404 with the JSON error body; DELETE answers 204; /health answers 200. `w` and `r` are ignored.
//
// Run: npx tsx bench/bare-server.ts [--port 7100] [--host 127.0.0.1]
// Prints `bare-server http://HOST:PORT` once listening; stops on SIGINT/SIGTERM.

import Fastify, { type FastifyInstance } from "fastify";
import { pathToFileURL } from "node:url";

export const BARE_SERVER_LIMITS = {
  /** fastify's default, and Grapevine's default --max-value-bytes (1 MiB). */
  bodyBytesMax: 1_048_576,
  /**
   * Records kept; past this a PUT of a new key is refused with 507, so a long run cannot exhaust
   * memory.
   */
  recordsMax: 10_000_000,
} as const;

interface StoredValue {
  readonly value: Buffer;
  readonly contentType: string;
  readonly timestamp: string;
}

export interface BareServerOptions {
  readonly host?: string;
  /** 0: any free port. */
  readonly port?: number;
}

export interface BareServer {
  readonly url: string;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startBareServer(options: BareServerOptions = {}): Promise<BareServer> {
  const app = Fastify({ logger: false, bodyLimit: BARE_SERVER_LIMITS.bodyBytesMax });
  const store = new Map<string, StoredValue>();
  // Values are opaque bytes of any content type, as in Grapevine.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  app.get("/health", async () => ({ status: "ok" }));

  app.put<{ Params: { key: string } }>("/kv/:key", (request, reply) => {
    const { key } = request.params;
    if (!store.has(key) && store.size >= BARE_SERVER_LIMITS.recordsMax) {
      void reply
        .code(507)
        .send({ error: "full", message: "the bare server keeps at most 10,000,000 records" });
      return;
    }
    const body = request.body;
    const timestamp = String(Date.now() * 1000);
    store.set(key, {
      value: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
      contentType: request.headers["content-type"] ?? "application/octet-stream",
      timestamp,
    });
    void reply.code(204).header("x-grapevine-timestamp", timestamp).send();
  });

  app.get<{ Params: { key: string } }>("/kv/:key", (request, reply) => {
    const stored = store.get(request.params.key);
    if (stored === undefined) {
      void reply.code(404).send({ error: "not_found", message: "not found" });
      return;
    }
    void reply
      .header("content-type", stored.contentType)
      .header("x-grapevine-timestamp", stored.timestamp)
      .send(stored.value);
  });

  app.delete<{ Params: { key: string } }>("/kv/:key", (request, reply) => {
    store.delete(request.params.key);
    void reply.code(204).send();
  });

  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : (options.port ?? 0);
  return { url: `http://${options.host ?? "127.0.0.1"}:${port}`, app, close: () => app.close() };
}

function flagValue(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const portText = flagValue(args, "--port") ?? "0";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    process.stderr.write(
      `bare-server: --port must be 0 to 65535, got ${JSON.stringify(portText)}\n`,
    );
    process.exit(2);
  }
  const server = await startBareServer({ host: flagValue(args, "--host") ?? "127.0.0.1", port });
  process.stdout.write(`bare-server ${server.url}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // A parent that started this over IPC (bench/data-path.ts) takes it down by disconnecting.
  if (process.channel !== undefined) {
    process.once("disconnect", stop);
    process.channel.unref();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main();
