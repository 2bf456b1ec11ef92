// buildNode without a socket (issue 22 §1): the whole node — identity, store, engine, data path,
// routes — built from a config, ticking, and answering through fastify's inject, never listening.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltNode } from "../../../src/node/build-node.js";
import { buildSoloNode } from "../../support/solo-node.js";

let root: string;
let node: BuiltNode;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "grapevine-build-node-"));
  node = await buildSoloNode(root);
  // The first tick makes this node live in its own view; with no seeds it sends nothing.
  node.begin();
});

afterAll(async () => {
  await node?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("buildNode", () => {
  it("builds a single-node cluster that serves /health, /ready and a PUT then GET without listening", async () => {
    expect(node.app.server.listening).toBe(false);

    const health = await node.app.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: "ok" });

    // Alone (no seeds, no known peers), the ring is learned at once.
    const ready = await node.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);

    const put = await node.app.inject({
      method: "PUT",
      url: "/kv/greeting",
      headers: { "content-type": "text/plain" },
      payload: "hello",
    });
    expect(put.statusCode, put.body).toBe(204);

    const get = await node.app.inject({ method: "GET", url: "/kv/greeting" });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe("hello");
    expect(get.headers["content-type"]).toBe("text/plain");
    expect(node.app.server.listening).toBe(false);
  });

  it("says draining from the first moment of stop, and stops once however often it is asked", async () => {
    const first = node.stop();
    expect(node.readiness()).toEqual({ ready: false, reason: "draining" });
    await first;
    await node.stop();
    expect(node.isStopping()).toBe(true);
  });
});
