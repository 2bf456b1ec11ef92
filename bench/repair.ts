// bench/repair.ts — the figures of issue 4: what `grapevine repair` costs, against a naive
// exchange.
//
// Run: npm run build && npx tsx bench/repair.ts [--keys 100000,1000000] [--levels 0,0.001,0.01,0.1]
//      [--load-s 5] [--warmup-s 3] [--concurrency 8]
// Writes bench/results/repair.json and repair.svg.
//
// Setup, per key count N and divergence level d. Three data dirs are built in this process with the
// store itself (openLevelStore + apply: loading 1M keys over HTTP on two cores takes too long): N
// keys of 100-byte values, identical on node1 and node2. On node3, d·N keys diverge, a third each:
// missing (written while node3 was down), older (node3 holds a previous version), deleted (node1
// and node2 hold a newer tombstone; node3 still the live value). Three `grapevine start` processes
// (rf 3, 16 vnodes, hints and background repair off) then open those dirs, and once all three see
// each other live, a repair is started on node3 (POST /admin/repair, as `grapevine repair` does)
// and polled.
//
// Measured: the repair's seconds (the job's own clock), its message body bytes both ways (counted
// by the session, HTTP headers excluded: ~150 B per round trip more), round trips, keys moved; and,
// for scale, the divergent records' own size (key + encoded record of the version that wins) and a
// naive full exchange: for each of node3's two peers, both full lists of keys and versions (msgpack
// [key, timestamp, 8-byte hash] per key, measured by encoding them), plus the divergent records
// once. Client latency: a closed loop of `--concurrency` GETs at r=one on random keys that do not
// diverge (so read repair cannot mend the divergence first), spread over the three nodes, for
// `--load-s` seconds before the repair (after `--warmup-s` seconds of the same load, not measured),
// and again while the repair runs; p99 of each window. After the repair, every divergent key is
// read back at r=one from node3 and checked.

import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import type { TopLevelSpec } from "vega-lite";
import { quantile, writeBenchReport } from "./lib/report.js";
import { createRandom, randomInt } from "../src/core/random.js";
import { findFreePortRange } from "../src/cli/bench/local-cluster.js";
import { encodePeerBody } from "../src/net/codec.js";
import { tokenOf } from "../src/ring/partitioner.js";
import {
  encodeRecord,
  tombstoneRecord,
  type KeyedRecord,
  type StoredRecord,
} from "../src/storage/record.js";
import { openLevelStore } from "../src/storage/store.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(REPO_ROOT, "bin", "grapevine.js");

const args = process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 && args[index + 1] !== undefined ? (args[index + 1] as string) : fallback;
}
const KEY_COUNTS = flag("--keys", "100000").split(",").map(Number);
const LEVELS = flag("--levels", "0,0.001,0.01,0.1").split(",").map(Number);
const LOAD_S = Number(flag("--load-s", "5"));
const CONCURRENCY = Number(flag("--concurrency", "8"));
const WARMUP_S = Number(flag("--warmup-s", "3"));
const VALUE_BYTES = 100;
const SEED = 20_261_123;
const T0 = 1_790_000_000_000_000;
const APPLY_CHUNK = 4_096;

const keyOf = (i: number): string => `key-${String(i).padStart(8, "0")}`;

function valueOf(i: number, version: number): Buffer {
  const value = Buffer.alloc(VALUE_BYTES);
  value.write(`${i}:${version}:`, "utf8");
  for (let at = 16; at < VALUE_BYTES; at += 4)
    value.writeUInt32LE(((i + 1) * 2654435761 + at * (version + 7)) >>> 0, at);
  return value;
}

function baseRecord(i: number): StoredRecord {
  return {
    value: valueOf(i, 1),
    contentType: "application/octet-stream",
    timestampUs: T0 + i,
    writer: "node1",
    tombstone: false,
  };
}

async function applyAll(
  dataDir: string,
  count: number,
  make: (index: number) => KeyedRecord,
): Promise<void> {
  const store = await openLevelStore({ dataDir, sync: false });
  for (let at = 0; at < count; at += APPLY_CHUNK) {
    const chunk: KeyedRecord[] = [];
    for (let index = at; index < Math.min(count, at + APPLY_CHUNK); index++)
      chunk.push(make(index));
    await store.apply(chunk);
  }
  await store.close();
}

/**
 * msgpack bytes of a full [key, timestamp, 8-byte hash] list, encoded in chunks as a sender would.
 */
function naiveListBytes(entries: { key: string; timestampUs: number }[]): number {
  let bytes = 0;
  const hash = Buffer.alloc(8, 0xab);
  for (let at = 0; at < entries.length; at += 10_000) {
    const chunk = entries
      .slice(at, at + 10_000)
      .map((entry) => [entry.key, entry.timestampUs, hash]);
    bytes += encodePeerBody({ entries: chunk }).length;
  }
  return bytes;
}

interface RunningNode {
  readonly id: string;
  readonly url: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
}

function startNode(id: string, port: number, dataDir: string, seeds: string[]): RunningNode {
  // REPAIR_BENCH_CPU_PROF=<dir>: each node writes a V8 CPU profile there when it stops (for finding
  // where a repair's time goes).
  const profileDir = process.env.REPAIR_BENCH_CPU_PROF;
  const child = spawn(
    process.execPath,
    [
      ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
      BIN,
      "start",
      "--id",
      id,
      "--listen",
      `127.0.0.1:${port}`,
      "--data-dir",
      dataDir,
      "--hinted-handoff",
      "off",
      "--anti-entropy-interval-s",
      "off",
      "--log-level",
      "warn",
      ...(seeds.length > 0 ? ["--seeds", seeds.join(",")] : []),
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env } },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { id, url: `http://127.0.0.1:${port}`, process: child, exited };
}

/**
 * node1 first (no seeds), then node2 and node3 seeded by it; resolves once all three see three live
 * normal members.
 */
async function startCluster(dirs: readonly string[], base: number): Promise<RunningNode[]> {
  const nodes = dirs.map((dir, index) =>
    startNode(`node${index + 1}`, base + index, dir, index === 0 ? [] : [`127.0.0.1:${base}`]),
  );
  try {
    for (const node of nodes) {
      await waitUntil(`${node.id} to see 3 live normal members`, 60_000, async () => {
        const { body } = await getJson(`${node.url}/cluster/status`);
        const members = (body as { members?: { live: boolean; state: string }[] }).members ?? [];
        return (
          members.length === 3 &&
          members.every((member) => member.live && member.state === "normal")
        );
      });
    }
  } catch (error) {
    await stopCluster(nodes);
    throw error;
  }
  return nodes;
}

async function stopCluster(nodes: readonly RunningNode[]): Promise<void> {
  for (const node of nodes) node.process.kill("SIGTERM");
  await Promise.all(nodes.map((node) => node.exited));
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface LoadWindow {
  readonly latenciesMs: number[];
  readonly errors: number;
}

/** Closed-loop GETs at r=one until stop() resolves true. */
async function runLoad(
  pools: Pool[],
  keyIndexes: readonly number[],
  shouldStop: () => boolean,
  seed: number,
): Promise<LoadWindow> {
  const random = createRandom(seed);
  const latenciesMs: number[] = [];
  let errors = 0;
  const worker = async (w: number): Promise<void> => {
    const pool = pools[w % pools.length] as Pool;
    while (!shouldStop()) {
      const key = keyOf(keyIndexes[randomInt(random, keyIndexes.length)] as number);
      const started = performance.now();
      try {
        const response = await pool.request({ method: "GET", path: `/kv/${key}?r=one` });
        await response.body.arrayBuffer();
        if (response.statusCode !== 200 && response.statusCode !== 404) errors++;
      } catch {
        errors++;
      }
      latenciesMs.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return { latenciesMs, errors };
}

interface Row {
  keys: number;
  divergence: number;
  divergentKeys: number;
  repairSeconds: number;
  bytes: number;
  bytesSent: number;
  bytesReceived: number;
  roundTrips: number;
  rangesCompared: number;
  rangesDiffering: number;
  keysReceived: number;
  keysSent: number;
  divergentOwnBytes: number;
  bytesPerOwnByte: number | null;
  naiveBytes: number;
  naiveListBytesPerPeer: number;
  p99WithoutRepairMs: number;
  p99DuringRepairMs: number;
  samplesDuringRepair: number;
  loadErrors: number;
  verifiedWrong: number;
  buildSeconds: number;
  /**
   * The machine's 1-minute load average after the repair: the cores are shared, and it shows in
   * p99.
   */
  loadAverage: number;
}

async function runLevel(
  root: string,
  baseDir: string,
  keyCount: number,
  level: number,
): Promise<Row> {
  const buildStarted = performance.now();
  const random = createRandom(SEED + Math.round(level * 1e6) + keyCount);
  const divergentCount = Math.round(keyCount * level);
  const chosen = new Set<number>();
  while (chosen.size < divergentCount) chosen.add(randomInt(random, keyCount));
  const divergent = [...chosen];
  const missing = divergent.filter((_, i) => i % 3 === 0);
  const older = divergent.filter((_, i) => i % 3 === 1);
  const deleted = divergent.filter((_, i) => i % 3 === 2);
  const deletedAtUs = T0 + keyCount + 1_000_000;

  const dirs = ["node1", "node2", "node3"].map((id) => path.join(root, `${id}-${level}`));
  const [dir1, dir2, dir3] = dirs as [string, string, string];
  // The nodes join once on empty dirs (identities, tokens, a finished bootstrap of nothing), so
  // that the restart below on the prepared data is a restart: no bootstrap streams the divergence
  // away.
  const ports = await findFreePortRange(3);
  await stopCluster(await startCluster(dirs, ports));
  const db = (dir: string): string => path.join(dir, "db");
  for (const dir of dirs) await rm(db(dir), { recursive: true, force: true });
  await cp(db(baseDir), db(dir1), { recursive: true });
  await applyAll(dir1, deleted.length, (index) => ({
    key: keyOf(deleted[index] as number),
    record: tombstoneRecord(deletedAtUs, "node2"),
  }));
  await cp(db(dir1), db(dir2), { recursive: true });
  await cp(db(baseDir), db(dir3), { recursive: true });
  {
    const store = await openLevelStore({ dataDir: dir3, sync: false });
    for (const i of [...missing, ...older]) {
      const token = tokenOf(keyOf(i));
      await store.deleteRange({ start: token === 0n ? 2n ** 64n - 1n : token - 1n, end: token });
    }
    await store.close();
  }
  await applyAll(dir3, older.length, (index) => {
    const i = older[index] as number;
    return {
      key: keyOf(i),
      record: { ...baseRecord(i), value: valueOf(i, 0), timestampUs: T0 + i - 1 },
    };
  });
  const buildSeconds = (performance.now() - buildStarted) / 1000;

  // The divergent records' own size: key and encoded record of the version that wins.
  let divergentOwnBytes = 0;
  for (const i of [...missing, ...older])
    divergentOwnBytes += Buffer.byteLength(keyOf(i)) + encodeRecord(baseRecord(i)).length;
  for (const i of deleted)
    divergentOwnBytes +=
      Buffer.byteLength(keyOf(i)) + encodeRecord(tombstoneRecord(deletedAtUs, "node2")).length;
  // Naive: for each of the two peers, both full key/version lists, plus the divergent records once.
  const missingSet = new Set(missing);
  const peerList = Array.from({ length: keyCount }, (_, i) => ({
    key: keyOf(i),
    timestampUs: T0 + i,
  }));
  const node3List = peerList.filter((_, i) => !missingSet.has(i));
  const naiveListBytesPerPeer = naiveListBytes(peerList) + naiveListBytes(node3List);
  const naiveBytes = 2 * naiveListBytesPerPeer + divergentOwnBytes;

  const nodes: RunningNode[] = [];
  const pools: Pool[] = [];
  try {
    nodes.push(...(await startCluster(dirs, ports)));
    for (const node of nodes) pools.push(new Pool(node.url, { connections: CONCURRENCY }));
    if (process.env.REPAIR_BENCH_DEBUG)
      for (const node of nodes)
        console.log(node.id, JSON.stringify((await getJson(`${node.url}/cluster/status`)).body));

    // Warm-up, not measured: freshly started nodes are still compiling their hot paths, which would
    // inflate the quiet window that comes first.
    const warmUntil = performance.now() + WARMUP_S * 1000;
    await runLoad(
      pools,
      Array.from({ length: keyCount }, (_, i) => i).filter((i) => !chosen.has(i)),
      () => performance.now() >= warmUntil,
      SEED + 3,
    );
    // Client latency without repair. Reads go to keys that do not diverge: r=one reads still do
    // background read repair, which would otherwise mend part of the divergence before the repair.
    const loadKeys = Array.from({ length: keyCount }, (_, i) => i).filter((i) => !chosen.has(i));
    const quietUntil = performance.now() + LOAD_S * 1000;
    const quiet = await runLoad(pools, loadKeys, () => performance.now() >= quietUntil, SEED + 1);

    // The repair, with the same load running until it ends.
    const node3 = nodes[2] as RunningNode;
    const started = await fetch(`${node3.url}/admin/repair`, { method: "POST" });
    const { id } = (await started.json()) as { id: string };
    let done = false;
    const during = runLoad(pools, loadKeys, () => done, SEED + 2);
    let job: { state: string; summary: Record<string, number> } | null = null;
    while (job === null || job.state === "running") {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await getJson(`${node3.url}/admin/repair/${id}`)).body as {
        state: string;
        summary: Record<string, number>;
      };
    }
    done = true;
    const loaded = await during;
    if (job.state !== "done") throw new Error(`repair ended ${job.state}: ${JSON.stringify(job)}`);

    // Every divergent key now reads back from node3 as the winner.
    let verifiedWrong = 0;
    const node3Pool = pools[2] as Pool;
    const deletedSet = new Set(deleted);
    let next = 0;
    const verify = async (): Promise<void> => {
      while (next < divergent.length) {
        const i = divergent[next++] as number;
        const response = await node3Pool.request({ method: "GET", path: `/kv/${keyOf(i)}?r=one` });
        const body = Buffer.from(await response.body.arrayBuffer());
        const wrong = deletedSet.has(i)
          ? response.statusCode !== 404
          : response.statusCode !== 200 || !body.equals(valueOf(i, 1));
        if (wrong) verifiedWrong++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => verify()));

    const summary = job.summary;
    const bytes = (summary.bytesSent ?? 0) + (summary.bytesReceived ?? 0);
    return {
      keys: keyCount,
      divergence: level,
      divergentKeys: divergentCount,
      repairSeconds: summary.seconds ?? 0,
      bytes,
      bytesSent: summary.bytesSent ?? 0,
      bytesReceived: summary.bytesReceived ?? 0,
      roundTrips: summary.roundTrips ?? 0,
      rangesCompared: summary.rangesCompared ?? 0,
      rangesDiffering: summary.rangesDiffering ?? 0,
      keysReceived: summary.keysReceived ?? 0,
      keysSent: summary.keysSent ?? 0,
      divergentOwnBytes,
      bytesPerOwnByte: divergentOwnBytes > 0 ? bytes / divergentOwnBytes : null,
      naiveBytes,
      naiveListBytesPerPeer,
      p99WithoutRepairMs: quantile(quiet.latenciesMs, 0.99),
      p99DuringRepairMs:
        loaded.latenciesMs.length > 0 ? quantile(loaded.latenciesMs, 0.99) : Number.NaN,
      samplesDuringRepair: loaded.latenciesMs.length,
      loadErrors: quiet.errors + loaded.errors,
      verifiedWrong,
      buildSeconds,
      loadAverage: os.loadavg()[0] ?? 0,
    };
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
    await stopCluster(nodes);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
const root = await mkdtemp(path.join(os.tmpdir(), "grapevine-bench-repair-"));
try {
  for (const keyCount of KEY_COUNTS) {
    const baseDir = path.join(root, `base-${keyCount}`);
    const started = performance.now();
    await applyAll(baseDir, keyCount, (i) => ({ key: keyOf(i), record: baseRecord(i) }));
    console.log(`built ${keyCount} keys in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const level of LEVELS) {
      const row = await runLevel(root, baseDir, keyCount, level);
      rows.push(row);
      console.log(
        `${keyCount} keys, ${(level * 100).toFixed(1)}% divergent (${row.divergentKeys}): ${row.repairSeconds.toFixed(2)} s, ` +
          `${row.bytes} B in ${row.roundTrips} round trips (${row.bytesPerOwnByte === null ? "-" : row.bytesPerOwnByte.toFixed(2)}x own size), ` +
          `naive ${row.naiveBytes} B; received ${row.keysReceived}, sent ${row.keysSent}; ` +
          `p99 ${row.p99WithoutRepairMs.toFixed(2)} ms quiet vs ${row.p99DuringRepairMs.toFixed(2)} ms during (${row.samplesDuringRepair} samples); wrong after: ${row.verifiedWrong}`,
      );
    }
    await rm(baseDir, { recursive: true, force: true });
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

const inSync = rows.filter((row) => row.divergence === 0);
const tenth = rows.filter((row) => row.divergence === 0.001);
const targets = [
  ...inSync.map((row) => ({
    name: `in-sync repair, ${row.keys} keys`,
    target: "per range: one round trip and < 1 KB",
    measured: `${row.rangesCompared} range comparisons in ${row.roundTrips} round trips, ${(row.bytes / row.rangesCompared).toFixed(1)} B per range`,
    met: row.roundTrips <= 2 && row.bytes / row.rangesCompared < 1024,
  })),
  ...tenth.map((row) => ({
    name: `0.1% divergent, ${row.keys} keys`,
    target: "< 3x the divergent records' own size",
    measured: `${row.bytes} B vs ${row.divergentOwnBytes} B own (${(row.bytesPerOwnByte ?? 0).toFixed(2)}x)`,
    met: (row.bytesPerOwnByte ?? Infinity) < 3,
  })),
  ...rows
    .filter((row) => row.divergence > 0)
    .map((row) => ({
      name: `client p99 during repair, ${row.keys} keys, ${(row.divergence * 100).toFixed(1)}%`,
      target: "< 1.5x p99 without repair",
      measured: `${row.p99DuringRepairMs.toFixed(2)} ms vs ${row.p99WithoutRepairMs.toFixed(2)} ms (${row.samplesDuringRepair} samples during)`,
      met: row.p99DuringRepairMs < 1.5 * row.p99WithoutRepairMs,
    })),
];

const chartValues = rows.flatMap((row) => [
  {
    keys: `${row.keys} keys`,
    divergence: row.divergence * 100,
    series: "repair (bytes on the wire)",
    bytes: Math.max(row.bytes, 1),
  },
  {
    keys: `${row.keys} keys`,
    divergence: row.divergence * 100,
    series: "naive full key/version exchange",
    bytes: row.naiveBytes,
  },
  {
    keys: `${row.keys} keys`,
    divergence: row.divergence * 100,
    series: "divergent records' own size",
    bytes: Math.max(row.divergentOwnBytes, 1),
  },
]);
const chart: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: "Repair of node3 (3 nodes, rf 3): bytes on the wire by divergence",
  data: { values: chartValues },
  facet: { column: { field: "keys", type: "nominal", title: null } },
  spec: {
    width: 320,
    height: 280,
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "divergence", type: "ordinal", title: "keys divergent on node3 (%)" },
      y: { field: "bytes", type: "quantitative", scale: { type: "log" }, title: "bytes" },
      color: { field: "series", type: "nominal", title: null },
    },
  },
};

const written = await writeBenchReport({
  name: "repair",
  description:
    "grapevine repair on node3 of 3 nodes (rf 3, 16 vnodes, 100-byte values) with 0/0.1/1/10% of keys divergent on node3 (a third each missing, older, deleted elsewhere): seconds, message body bytes and round trips, against the divergent records' own size and a naive exchange of both full key/version lists with each peer; client GET r=one p99 before vs during the repair.",
  parameters: {
    keyCounts: KEY_COUNTS,
    levels: LEVELS,
    valueBytes: VALUE_BYTES,
    loadSeconds: LOAD_S,
    warmupSeconds: WARMUP_S,
    concurrency: CONCURRENCY,
    seed: SEED,
    vnodes: 16,
    replicationFactor: 3,
  },
  results: rows,
  targets,
  chart,
});
console.log(`\nwrote ${written.join(", ")}`);
