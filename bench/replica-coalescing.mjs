#!/usr/bin/env node
// Measures quorum PUT and GET throughput of a local 3-node cluster (rf 3) with replica coalescing on
// and off, against a bare fastify route on the same machine, driven by the same undici loop.
// Variants run interleaved for several rounds (a shared machine's load drifts); the median is kept.
//
//   npm run build && node bench/replica-coalescing.mjs [--seconds 5] [--warmup-seconds 5]
//       [--rounds 3] [--concurrency 64] [--value-bytes 100] [--variants on,off:64:64]
//
// A variant is coalesce on|off, optionally with connections/in-flight per peer: `on:2:2`, `off:64:64`.
// Prints one JSON line per run and a summary table. Uses dist/, so build first.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Pool } from "undici";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: "string", default: "5" },
    // Fresh processes run cold code; a few seconds of load first lets V8 optimize the hot path.
    "warmup-seconds": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
    "value-bytes": { type: "string", default: "100" },
    keys: { type: "string", default: "10000" },
    variants: { type: "string", default: "on,off:64:64" },
    "base-port": { type: "string", default: "17400" },
    child: { type: "string" },
  },
});

// --- child modes: one node, or the bare fastify server -------------------------------------------

if (values.child === "node") {
  const [id, port, dataDir, seed, coalesce, connections, inFlight] = process.argv.slice(
    process.argv.indexOf("--") + 1,
  );
  const { parseNodeConfig } = await import(path.join(ROOT, "dist/node/config.js"));
  const { startNode } = await import(path.join(ROOT, "dist/node/node.js"));
  const flags = { id, listen: `127.0.0.1:${port}`, "data-dir": dataDir, "log-level": "warn" };
  if (seed !== "-") flags.seeds = seed;
  const tuning = { coalesce: coalesce === "on" };
  if (connections) tuning.connectionsPerPeer = Number(connections);
  if (inFlight) tuning.requestsInFlightPerPeerMax = Number(inFlight);
  const node = await startNode(parseNodeConfig(flags, {}), { replicaClientTuning: tuning });
  process.on("SIGTERM", () => void node.stop().then(() => process.exit(0)));
  process.stdout.write("ready\n");
} else if (values.child === "bare") {
  const port = Number(process.argv[process.argv.indexOf("--") + 1]);
  const { default: Fastify } = await import("fastify");
  const app = Fastify();
  const value = Buffer.alloc(Number(values["value-bytes"]), 120);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) =>
      done(null, body),
    );
    scope.put("/kv/*", async (_request, reply) => reply.code(204).send());
    scope.get("/kv/*", async (_request, reply) =>
      reply.header("content-type", "application/octet-stream").send(value),
    );
  });
  await app.listen({ host: "127.0.0.1", port });
  process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
  process.stdout.write("ready\n");
} else {
  await main();
}

// --- the driver ----------------------------------------------------------------------------------

function spawnChild(args) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
  });
}

async function stopAll(children) {
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", resolve);
          child.kill("SIGTERM");
        }),
    ),
  );
}

async function waitLive(url, members) {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const response = await fetch(`${url}/cluster/status`);
      const body = await response.json();
      if (body.members.length === members && body.members.every((member) => member.live)) return;
    } catch {
      // Not up yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the cluster did not come up");
}

async function startCluster(variant, basePort) {
  const [coalesce, connections = "", inFlight = ""] = variant.split(":");
  const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-measure-"));
  const seed = `127.0.0.1:${basePort}`;
  const children = [];
  for (let i = 0; i < 3; i++) {
    const port = basePort + i;
    const args = [
      "--child",
      "node",
      "--",
      `m${i + 1}`,
      String(port),
      path.join(dir, `m${i + 1}`),
      i === 0 ? "-" : seed,
      coalesce,
      connections,
      inFlight,
    ];
    children.push(await spawnChild(args));
  }
  const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${basePort + i}`);
  await waitLive(urls[0], 3);
  return {
    urls,
    stop: async () => {
      await stopAll(children);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function drive(method, urls, { concurrency, seconds, valueBytes, keys, query }) {
  const pools = urls.map(
    (url) => new Pool(url, { connections: Math.ceil(concurrency / urls.length) + 1 }),
  );
  const value = Buffer.alloc(valueBytes, 120);
  const latencies = [];
  let errors = 0;
  let misses = 0;
  let sequence = 0;
  const endAt = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < endAt) {
        const n = sequence++;
        const pool = pools[n % pools.length];
        const t0 = performance.now();
        try {
          const response = await pool.request({
            method,
            path: `/kv/key-${(n * 7919) % keys}${query}`,
            headers: { "content-type": "application/octet-stream" },
            body: method === "PUT" ? value : undefined,
          });
          await response.body.dump();
          // A GET of a key the PUT phase did not reach is a miss (a full read all the same), not an error.
          if (response.statusCode === 404 && method === "GET") misses++;
          else if (response.statusCode >= 300) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  await Promise.all(pools.map((pool) => pool.close()));
  latencies.sort((a, b) => a - b);
  const at = (q) =>
    Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2));
  return {
    opsPerS: Math.round(latencies.length / elapsedS),
    errors,
    misses,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

function median(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const options = {
    concurrency: Number(values.concurrency),
    seconds: Number(values.seconds),
    valueBytes: Number(values["value-bytes"]),
    keys: Number(values.keys),
  };
  const basePort = Number(values["base-port"]);
  const warmupSeconds = Number(values["warmup-seconds"]);
  const variants = values.variants.split(",");
  const results = new Map();
  const record = (name, op, result) => {
    const key = `${name} ${op}`;
    if (!results.has(key)) results.set(key, []);
    results.get(key).push(result);
    console.log(JSON.stringify({ variant: name, op, ...options, ...result }));
  };
  for (let round = 0; round < Number(values.rounds); round++) {
    const bare = await spawnChild(["--child", "bare", "--", String(basePort + 9)]);
    const bareUrl = [`http://127.0.0.1:${basePort + 9}`];
    await drive("PUT", bareUrl, { ...options, seconds: warmupSeconds, query: "" });
    record("bare-fastify", "PUT", await drive("PUT", bareUrl, { ...options, query: "" }));
    record("bare-fastify", "GET", await drive("GET", bareUrl, { ...options, query: "" }));
    await stopAll([bare]);
    for (const variant of variants) {
      const cluster = await startCluster(variant, basePort);
      try {
        await drive("PUT", cluster.urls, {
          ...options,
          seconds: warmupSeconds,
          query: "?w=quorum",
        });
        record(
          `coalesce=${variant}`,
          "PUT",
          await drive("PUT", cluster.urls, { ...options, query: "?w=quorum" }),
        );
        record(
          `coalesce=${variant}`,
          "GET",
          await drive("GET", cluster.urls, { ...options, query: "?r=quorum" }),
        );
      } finally {
        await cluster.stop();
      }
    }
  }
  const bareOf = (op) => median(results.get(`bare-fastify ${op}`).map((r) => r.opsPerS));
  console.log(
    `\nmedian of ${values.rounds} rounds, concurrency ${options.concurrency}, ${options.valueBytes}-byte values, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log("variant                    op    ops/s   vs bare   p50 ms   p99 ms   errors");
  for (const [key, runs] of results) {
    const [name, op] = key.split(" ");
    const opsPerS = median(runs.map((r) => r.opsPerS));
    const share = ((100 * opsPerS) / bareOf(op)).toFixed(1);
    const line = [
      name.padEnd(26),
      op.padEnd(5),
      String(opsPerS).padStart(6),
      `${share}%`.padStart(9),
      String(median(runs.map((r) => r.p50Ms))).padStart(8),
      String(median(runs.map((r) => r.p99Ms))).padStart(8),
      String(runs.reduce((sum, r) => sum + r.errors, 0)).padStart(8),
    ];
    console.log(line.join(" "));
  }
}
