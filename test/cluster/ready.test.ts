// GET /ready on real `grapevine start` processes (issue 14 §3): a node that answers /health but has
// not learned the ring yet is not ready (503 `starting`), and becomes ready once it serves. The
// state is held long enough to see by restarting one member of a two-node cluster alone: it waits
// for the peer it knew (peers.json) up to 15 s before it serves anyway (cluster/ring-settle.ts).

import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { httpRequest } from "../support/http.js";
import { useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("ready");
/**
 * The restarted node serves anyway 15 s after it started (RING_SETTLE_DEFAULTS.settleMaxMs), with
 * room.
 */
const SETTLE_TIMEOUT_MS = 30_000;

describe("/ready on a real node", () => {
  it("answers 503 starting while a restarted node waits for its known peer, /health 200 meanwhile; then 200 once it serves", async () => {
    const first = await cluster.start({ id: "r1" });
    await cluster.start({ id: "r2", seeds: [first.address] });
    // r1 remembers r2 once it has seen it join.
    await waitFor(
      async () => {
        try {
          const file = JSON.parse(
            await readFile(path.join(first.dataDir, "peers.json"), "utf8"),
          ) as { peers?: unknown[] };
          return (file.peers ?? []).includes("r2");
        } catch {
          return false;
        }
      },
      { timeoutMs: 15_000, intervalMs: 100, what: "r1 to save r2 in peers.json" },
    );
    expect((await httpRequest(`${first.url}/ready`)).status).toBe(200);
    await cluster.signal("r1", "SIGTERM");
    await cluster.signal("r2", "SIGTERM");

    const restarted = await cluster.restart("r1", { waitServing: false });
    await waitFor(
      async () => {
        try {
          return (
            (await httpRequest(`${restarted.url}/health`, { timeoutMs: 1_000 })).status === 200
          );
        } catch {
          return false;
        }
      },
      { timeoutMs: 15_000, intervalMs: 50, what: "the restarted r1 to answer /health" },
    );
    const starting = await httpRequest(`${restarted.url}/ready`);
    expect(starting.status, starting.text).toBe(503);
    expect(JSON.parse(starting.text)).toEqual({
      error: "unavailable",
      message: expect.any(String),
      reason: "starting",
    });

    await waitFor(
      async () =>
        (await httpRequest(`${restarted.url}/ready`, { timeoutMs: 1_000 })).status === 200,
      {
        timeoutMs: SETTLE_TIMEOUT_MS,
        intervalMs: 200,
        what: "r1 to become ready",
      },
    );
    expect(JSON.parse((await httpRequest(`${restarted.url}/ready`)).text)).toEqual({
      status: "ready",
    });
    const status = JSON.parse((await httpRequest(`${restarted.url}/cluster/status`)).text) as {
      serving?: boolean;
    };
    expect(status.serving).toBe(true);
  }, 90_000);
});
