// The node shell with a scripted engine and a manual clock: what it wires, not what the engine
// decides.

import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Clock } from "../../../src/core/clock.js";
import type {
  ClusterEngine,
  ClusterEngineOptions,
  MembershipEntry,
  ClusterEvent,
  MemberView,
  Outbound,
} from "../../../src/cluster/engine.js";
import type { PeerMessage } from "../../../src/cluster/peer-messages.js";
import { encodePeerBody, PEER_CONTENT_TYPE } from "../../../src/net/codec.js";
import { PEER_PATH } from "../../../src/net/peer-protocol.js";
import { parseNodeConfig } from "../../../src/node/config.js";
import { createLogger } from "../../../src/node/logger.js";
import {
  NodeStartError,
  peerRequestTimeoutMs,
  startNode,
  type GrapevineNode,
} from "../../../src/node/node.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { freePort } from "../../support/ports.js";
import { httpRequest, fetchJson } from "../../support/http.js";
import { waitFor } from "../../support/wait-for.js";

/** A clock whose scheduled tasks run only when the test says so. */
class ManualClock implements Clock {
  now = 1_000;
  tasks: { dueMs: number; task: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  schedule(delayMs: number, task: () => void): () => void {
    const entry = { dueMs: this.now + delayMs, task, cancelled: false };
    this.tasks.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }
  /** Advances to the next pending task and runs it. */
  runNext(): void {
    const pending = this.tasks.filter((task) => !task.cancelled).sort((a, b) => a.dueMs - b.dueMs);
    const next = pending[0];
    if (next === undefined) throw new Error("nothing scheduled");
    this.tasks = this.tasks.filter((task) => task !== next);
    this.now = Math.max(this.now, next.dueMs);
    next.task();
  }
  pending(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }
  /** How far ahead the next pending task is due, ms; undefined when none is. */
  nextDelayMs(): number | undefined {
    const due = this.tasks.filter((task) => !task.cancelled).map((task) => task.dueMs);
    return due.length === 0 ? undefined : Math.min(...due) - this.now;
  }
}

/**
 * The stop's own short waits (announce, linger) on the manual clock; the drain's bound is longer.
 */
const STOP_WAIT_MS_MAX = 1_000;

/**
 * node.stop() with the manual clock run through the stop's short waits (the shutdown announcement
 * and the linger), as time would; the drain's longer bound is left to the requests in flight.
 */
async function stopNode(node: GrapevineNode, clock: ManualClock): Promise<void> {
  let done = false;
  const stopping = node.stop().finally(() => {
    done = true;
  });
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    const delay = clock.nextDelayMs();
    if (!done && delay !== undefined && delay <= STOP_WAIT_MS_MAX) clock.runNext();
  }
  await stopping;
}

/** An engine that returns what the test scripts and records what it is given. */
class ScriptedEngine implements ClusterEngine {
  readonly tickIntervalMs = 500;
  ticks: number[] = [];
  received: PeerMessage[] = [];
  nextTick: Outbound[] = [];
  events: ClusterEvent[] = [];
  constructor(readonly options: ClusterEngineOptions) {}
  tick(nowMs: number): Outbound[] {
    this.ticks.push(nowMs);
    const out = this.nextTick;
    this.nextTick = [];
    return out;
  }
  receive(message: PeerMessage): Outbound[] {
    this.received.push(message);
    return [];
  }
  takeEvents(): ClusterEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }
  setLoad(): void {}
  setStatus(): void {}
  members(): MemberView[] {
    return [
      {
        id: this.options.id,
        address: this.options.address,
        status: this.options.status,
        live: true,
        phi: null,
        generation: this.options.generation,
        heartbeat: this.ticks.length,
        tokens: this.options.tokens.length,
        ownership: 1,
        keys: null,
        bytes: null,
      },
    ];
  }
  ring(): TokenMap {
    return TokenMap.build(new Map([[this.options.id, this.options.tokens]]));
  }
  ringFingerprint(): string {
    return "0:0";
  }
  membership(): MembershipEntry[] {
    return [];
  }
  isLive(): boolean {
    return true;
  }
  stats() {
    return {
      gossipRounds: this.ticks.length,
      messagesSent: 0,
      messagesReceived: this.received.length,
      messagesRefused: 0,
    };
  }
}

const heartbeat = (from: string): PeerMessage => ({
  kind: "heartbeat",
  from,
  generation: 1,
  incarnation: 0,
  sequence: 1,
});

let root: string;
const started: { node: GrapevineNode; clock: ManualClock }[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "grapevine-node-"));
});
afterEach(async () => {
  await Promise.all(started.splice(0).map(({ node, clock }) => stopNode(node, clock)));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Started {
  node: GrapevineNode;
  engine: ScriptedEngine;
  clock: ManualClock;
  lines: Record<string, unknown>[];
}

async function start(id: string, extra: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const config = parseNodeConfig(
    {
      id,
      listen: `127.0.0.1:${port}`,
      "data-dir": path.join(root, id),
      "log-level": "info",
      ...extra,
    },
    {},
  );
  const clock = new ManualClock();
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: config.logLevel,
    destination: {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    },
  });
  let engine: ScriptedEngine | undefined;
  const node = await startNode(config, {
    clock,
    logger,
    createEngine: (options) => (engine = new ScriptedEngine(options)),
  });
  started.push({ node, clock });
  if (engine === undefined) throw new Error("engine not created");
  return { node, engine, clock, lines };
}

describe("startNode", () => {
  it("logs exactly one line at info when it starts, naming id, listen, advertise, seeds, generation and tokens", async () => {
    const { node, lines } = await start("solo", { seeds: "127.0.0.1:1" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "node started",
      id: "solo",
      listen: node.config.listen,
      advertise: node.config.advertise,
      seeds: ["127.0.0.1:1"],
      generation: node.identity.generation,
      tokens: 16,
    });
  });

  it("builds the engine from the persisted identity and the config, in state normal", async () => {
    const { node, engine } = await start("builder", {
      seeds: "127.0.0.1:9",
      "gossip-interval-ms": "300",
      "phi-threshold": "5",
    });
    expect(engine.options).toMatchObject({
      id: "builder",
      address: node.config.advertise,
      generation: node.identity.generation,
      tokens: node.identity.tokens,
      status: "normal",
      seeds: ["127.0.0.1:9"],
      replicationFactor: 3,
      gossipIntervalMs: 300,
      phiThreshold: 5,
    });
  });

  it("ticks once at start and again each time its interval comes due, with the clock's time", async () => {
    const { engine, clock } = await start("ticker");
    expect(engine.ticks).toEqual([1_000]);
    clock.runNext();
    clock.runNext();
    expect(engine.ticks).toEqual([1_000, 1_500, 2_000]);
    expect(clock.pending()).toBe(1);
  });

  it("goes back to its grid after a stall instead of bursting catch-up ticks", async () => {
    const { engine, clock } = await start("staller");
    clock.now += 5_000; // the process was stopped for five seconds
    clock.runNext();
    expect(engine.ticks).toEqual([1_000, 6_000]);
    clock.runNext();
    expect(engine.ticks).toEqual([1_000, 6_000, 6_500]);
  });

  it("sends what a tick returns to the addressed peer, whose engine receives it", async () => {
    const sender = await start("sender");
    const receiver = await start("receiver");
    sender.engine.nextTick = [
      { to: "receiver", address: receiver.node.config.advertise, message: heartbeat("sender") },
    ];
    sender.clock.runNext();
    await waitFor(() => receiver.engine.received.length === 1, {
      timeoutMs: 5_000,
      what: "the heartbeat to arrive",
    });
    expect(receiver.engine.received[0]).toMatchObject({ kind: "heartbeat", from: "sender" });
  });

  it("logs membership and ring events at info as they are drained", async () => {
    const { engine, clock, lines } = await start("watcher");
    engine.events = [{ kind: "member-down", id: "other" }, { kind: "tokens-changed" }];
    clock.runNext();
    expect(lines.map((line) => line["msg"])).toEqual([
      "node started",
      "member down",
      "ring changed",
    ]);
    expect(lines[1]).toMatchObject({ member: "other" });
  });

  it("serves /health, /cluster/status and /cluster/ring from the engine", async () => {
    const { node } = await start("server");
    expect(await fetchJson(`${node.url}/health`)).toEqual({ status: "ok" });
    const status = await fetchJson<{ node: string; members: { id: string; state: string }[] }>(
      `${node.url}/cluster/status`,
    );
    expect(status.node).toBe("server");
    expect(status.members).toMatchObject([{ id: "server", state: "normal" }]);
    const ring = await fetchJson<{ tokens: unknown[] }>(`${node.url}/cluster/ring`);
    expect(ring.tokens).toHaveLength(16);
    const metrics = await httpRequest(`${node.url}/metrics`);
    expect(metrics.text).toContain("grapevine_gossip_rounds_total");
  });

  it("hands a valid peer message to the engine and refuses a malformed one before it", async () => {
    const { node, engine } = await start("guarded");
    const good = await httpRequest(`${node.url}${PEER_PATH}`, {
      method: "POST",
      headers: { "content-type": PEER_CONTENT_TYPE },
      body: encodePeerBody(heartbeat("peer")),
    });
    expect(good.status).toBe(204);
    const bad = await httpRequest(`${node.url}${PEER_PATH}`, {
      method: "POST",
      headers: { "content-type": PEER_CONTENT_TYPE },
      body: encodePeerBody({ kind: "heartbeat", from: 42 }),
    });
    expect(bad.status).toBe(400);
    expect(engine.received).toHaveLength(1);
  });

  it("stops ticking and serving on stop(), and a second stop() is harmless", async () => {
    const { node, clock } = await start("stopper");
    await stopNode(node, clock);
    await stopNode(node, clock);
    expect(clock.pending()).toBe(0);
    await expect(httpRequest(`${node.url}/health`, { timeoutMs: 1_000 })).rejects.toThrow();
  });

  it("is ready once it serves, and draining from the moment stop() begins: a request in flight finishes, then /ready on its connection answers 503 draining", async () => {
    const { node, clock } = await start("drainer");
    expect(node.readiness()).toEqual({ ready: true });
    expect(await fetchJson(`${node.url}/ready`)).toEqual({ status: "ready" });

    // A PUT whose body is still arriving keeps its connection in flight through the drain.
    const port = Number(new URL(node.url).port);
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("error", () => undefined);
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("PUT /kv/held?w=one HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
    // One round trip on another connection: by its answer the server has read the PUT's head.
    expect((await httpRequest(`${node.url}/health`)).status).toBe(200);

    const stopped = stopNode(node, clock);
    expect(node.readiness()).toEqual({ ready: false, reason: "draining" });
    // The rest of the body, then a probe on the same connection (Node closes it after that answer).
    socket.write("56789GET /ready HTTP/1.1\r\nHost: a\r\n\r\n");
    await closed;
    await stopped;
    const statuses = [...received.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) =>
      Number(match[1]),
    );
    expect(statuses).toEqual([204, 503]);
    const bodies = received
      .split(/\r\n\r\n/)
      .filter((part) => part.startsWith("{"))
      .map(
        (part) => JSON.parse(part.slice(0, part.lastIndexOf("}") + 1)) as Record<string, unknown>,
      );
    expect(bodies).toEqual([
      { error: "unavailable", message: expect.any(String), reason: "draining" },
    ]);
  });

  it("refuses a port in use with one readable line", async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const config = parseNodeConfig(
        { id: "late", listen: `127.0.0.1:${port}`, "data-dir": path.join(root, "late") },
        {},
      );
      const attempt = startNode(config, { logger: createLogger({ level: "silent" }) });
      await expect(attempt).rejects.toBeInstanceOf(NodeStartError);
      await expect(attempt).rejects.toThrow(
        `cannot listen on 127.0.0.1:${port}: the address is already in use`,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("refuses a data dir that belongs to another node, and one that is a file", async () => {
    const first = await start("owner");
    await stopNode(first.node, first.clock);
    const config = parseNodeConfig(
      { id: "intruder", listen: "127.0.0.1:1", "data-dir": first.node.config.dataDir },
      {},
    );
    await expect(startNode(config, { logger: createLogger({ level: "silent" }) })).rejects.toThrow(
      /belongs to node "owner"/,
    );
    const file = path.join(first.node.config.dataDir, "node.json");
    const fileConfig = parseNodeConfig(
      { id: "x", listen: "127.0.0.1:1", "data-dir": path.join(file, "sub") },
      {},
    );
    await expect(
      startNode(fileConfig, { logger: createLogger({ level: "silent" }) }),
    ).rejects.toThrow(/cannot use data dir .*: a file is in the way/);
  });
});

describe("peerRequestTimeoutMs", () => {
  it("is the shorter of the request timeout and the gossip interval: a late datagram is worthless", () => {
    expect(peerRequestTimeoutMs({ requestTimeoutMs: 2_000, gossipIntervalMs: 1_000 })).toBe(1_000);
    expect(peerRequestTimeoutMs({ requestTimeoutMs: 300, gossipIntervalMs: 1_000 })).toBe(300);
  });
});
