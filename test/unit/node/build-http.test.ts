// The node's HTTP edge hands every answered request's status to the refusal tally (which keeps the
// refusals for its once-a-minute report) instead of logging refused requests one by one.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { GrapevineError } from "../../../src/core/errors.js";
import { buildHttpServer } from "../../../src/node/build-http.js";
import { parseNodeConfig } from "../../../src/node/config.js";
import { createLogger } from "../../../src/node/logger.js";

const noted: number[] = [];
let app: FastifyInstance;

beforeAll(async () => {
  app = buildHttpServer({
    config: parseNodeConfig({}, {}),
    ports: {},
    log: createLogger({ level: "silent" }),
    isStopping: () => false,
    refusals: { note: (status) => noted.push(status) },
  });
  app.get("/ok", () => ({ ok: true }));
  app.get("/missing", () => {
    throw new GrapevineError("not_found", "no such key");
  });
  app.get("/unavailable", () => {
    throw new GrapevineError("unavailable", "too few replicas", { required: 2, alive: 1 });
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

describe("the node's HTTP edge", () => {
  it("notes every answered request's status for the refusal count", async () => {
    for (const url of ["/ok", "/missing", "/unavailable", "/unavailable"])
      await app.inject({ method: "GET", url });
    expect(noted).toEqual([200, 404, 503, 503]);
  });
});
