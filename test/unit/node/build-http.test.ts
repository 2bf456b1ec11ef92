// The node's HTTP edge hands refused requests' statuses to the refusal tally (for its once-a-minute
// report) instead of logging them one by one; answers, and a probe's 503, are not refusals.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { READY_PATH } from "../../../src/api/ready-routes.js";
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
  app.get(READY_PATH, () => {
    throw new GrapevineError("unavailable", "starting", { reason: "starting" });
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

describe("the node's HTTP edge", () => {
  it("notes refused requests' statuses, not answers nor a probe's 503", async () => {
    for (const url of ["/ok", "/missing", "/unavailable", `${READY_PATH}?x=1`, "/unavailable?r=1"])
      await app.inject({ method: "GET", url });
    expect(noted).toEqual([503, 503]);
  });
});
