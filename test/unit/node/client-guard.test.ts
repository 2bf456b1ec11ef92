// The client guard over fastify (inject: no TLS socket, so no certificate; tokens only): each
// credential judged, refusals answered with the SPEC §2 body, counted by reason and logged at warn
// with the caller's address, a few lines per period.

import { afterEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createHttpServer } from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";
import { ClusterMetadata } from "../../../src/cluster/metadata.js";
import { TokenRegistry } from "../../../src/api/token-registry.js";
import { CLIENT_GUARD_LIMITS, clientGuard } from "../../../src/node/client-guard.js";
import { createLogger } from "../../../src/node/logger.js";

const NOW = 1_800_000_000_000;
const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function guarded() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: "warn",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  let seed = 0;
  const registry = new TokenRegistry({
    metadata: new ClusterMetadata(),
    self: "n1",
    stamp: () => NOW * 1000,
    nowMs: () => NOW,
    randomBytes: (count) => Buffer.from(Array.from({ length: count }, () => seed++ % 256)),
  });
  const refusals: string[] = [];
  const app = createHttpServer(TEST_HTTP_LIMITS);
  apps.push(app);
  app.addHook(
    "onRequest",
    clientGuard({
      lookupToken: (id) => registry.lookup(id),
      nowMs: () => NOW,
      countRefusal: (reason) => refusals.push(reason),
      log,
    }),
  );
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/kv/*", async () => "value");
  app.put("/kv/*", async (_request, reply) => reply.code(204).send());
  app.post("/admin/repair", async () => ({ id: "r1" }));
  await app.ready();
  return { app, registry, refusals, lines };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("the client guard", () => {
  it("leaves open routes open and refuses a request without a credential with 401", async () => {
    const { app, refusals, lines } = await guarded();
    expect((await app.inject({ url: "/health" })).statusCode).toBe(200);
    const none = await app.inject({ url: "/kv/a" });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: "unauthorized" });
    expect(refusals).toEqual(["no_credential"]);
    expect(lines[0]).toMatchObject({ level: 40, reason: "no_credential", address: "127.0.0.1" });
  });

  it("admits each role to what it may do and refuses the rest with 403", async () => {
    const { app, registry, refusals } = await guarded();
    const reader = registry.create("reader").token;
    const writer = registry.create("writer").token;
    const admin = registry.create("admin").token;
    expect((await app.inject({ url: "/kv/a", headers: bearer(reader) })).statusCode).toBe(200);
    const put = (token: string) =>
      app.inject({ method: "PUT", url: "/kv/a", headers: bearer(token) });
    const repair = (token: string) =>
      app.inject({ method: "POST", url: "/admin/repair", headers: bearer(token) });
    expect((await put(reader)).statusCode).toBe(403);
    expect((await put(writer)).statusCode).toBe(204);
    expect((await repair(writer)).statusCode).toBe(403);
    expect((await repair(admin)).statusCode).toBe(200);
    expect(refusals).toEqual(["role", "role"]);
  });

  it("refuses a malformed, a wrong and a revoked token with 401, by reason", async () => {
    const { app, registry, refusals } = await guarded();
    const { token, record } = registry.create("admin");
    const ask = (headers: Record<string, string>) => app.inject({ url: "/kv/a", headers });
    expect((await ask({ authorization: "Basic abc" })).statusCode).toBe(401);
    expect((await ask(bearer(`${token.slice(0, -1)}0`))).statusCode).toBe(401);
    registry.revoke(record.id);
    const revoked = await ask(bearer(token));
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ error: "unauthorized" });
    expect(refusals).toEqual(["malformed", "wrong_secret", "revoked"]);
  });

  it("logs a few refusals per period, then counts the rest", async () => {
    const { app, refusals, lines } = await guarded();
    const extra = 5;
    for (let i = 0; i < CLIENT_GUARD_LIMITS.warnLinesMax + extra; i++)
      await app.inject({ url: "/kv/a" });
    expect(refusals).toHaveLength(CLIENT_GUARD_LIMITS.warnLinesMax + extra);
    expect(lines).toHaveLength(CLIENT_GUARD_LIMITS.warnLinesMax);
  });
});
