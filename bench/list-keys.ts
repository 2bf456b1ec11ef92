// bench/list-keys.ts — listing a bucket's keys (issue 17 §4) on 3 real `grapevine start` nodes
// (rf 3): a small and a large bucket (--keys/4 and --keys keys) beside other buckets' keys
// (--other-keys), all written at quorum; then each bucket is listed from node1 at r=quorum in pages
// of 10,000 keys. Measured per listing: keys listed per second; records the replicas' scans visited
// per key listed (grapevine_list_records_visited_total over grapevine_list_keys_total: listing
// scans token ranges and filters by bucket, so this is the price of not keeping a per-bucket
// index); and node1's resident memory, sampled every 50 ms, before and at its peak while listing,
// which should not grow with the bucket's size (pages stream; nothing holds a whole bucket).
//
// Usage: npm run build && npx tsx bench/list-keys.ts [--keys 20000] [--other-keys 20000]

import { httpRequest } from "../test/support/http.js";
import { inParallel, startThreeNodes } from "../test/support/kv.js";
import { ProcessCluster } from "../test/support/process-cluster.js";
import { writeBenchReport } from "./lib/report.js";
import { intFlag } from "./lib/sim.js";

const KEYS = intFlag("keys", 20_000);
const OTHER_KEYS = intFlag("other-keys", 20_000);
const WRITE_CONCURRENCY = 128;
const PAGE_KEYS = 10_000;
const SAMPLE_MS = 50;

interface Listing {
  readonly bucket: string;
  readonly keys: number;
  readonly seconds: number;
  readonly keysPerSecond: number;
  readonly visitedPerKey: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
}

async function metric(url: string, name: string): Promise<number> {
  const text = (await httpRequest(`${url}/metrics`, { timeoutMs: 10_000 })).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

async function writeAll(urls: string[], bucket: string, count: number): Promise<void> {
  const keys = Array.from({ length: count }, (_, i) => i);
  await inParallel(keys, WRITE_CONCURRENCY, async (i) => {
    const url = `${urls[i % urls.length]}/buckets/${bucket}/keys/key-${i}?w=quorum`;
    const answer = await httpRequest(url, { method: "PUT", body: `value ${i}`, timeoutMs: 30_000 });
    if (answer.status !== 204) throw new Error(`PUT ${url}: ${answer.status} ${answer.text}`);
  });
}

async function listAll(url: string, bucket: string): Promise<number> {
  let count = 0;
  let after = "";
  for (;;) {
    const page = await httpRequest(
      `${url}/buckets/${bucket}/keys?r=quorum&limit=${PAGE_KEYS}${after}`,
      { timeoutMs: 120_000 },
    );
    const lines = page.text.trimEnd().split("\n");
    const last = JSON.parse(lines.at(-1) ?? "{}") as { next?: string; done?: boolean };
    count += lines.length - 1;
    if (last.next === undefined) {
      if (last.done !== true) throw new Error(`listing ${bucket} failed: ${lines.at(-1)}`);
      return count;
    }
    after = `&after=${last.next}`;
  }
}

async function measure(url: string, bucket: string, expected: number): Promise<Listing> {
  const rss = "grapevine_process_resident_memory_bytes";
  const rssBefore = await metric(url, rss);
  const visitedBefore = await metric(url, "grapevine_list_records_visited_total");
  let peak = rssBefore;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await metric(url, rss));
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  const started = performance.now();
  const keys = await listAll(url, bucket);
  const seconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;
  if (keys !== expected) throw new Error(`${bucket}: listed ${keys} keys, wrote ${expected}`);
  const visited = (await metric(url, "grapevine_list_records_visited_total")) - visitedBefore;
  const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return {
    bucket,
    keys,
    seconds: Math.round(seconds * 1000) / 1000,
    keysPerSecond: Math.round(keys / seconds),
    visitedPerKey: Math.round((visited / keys) * 100) / 100,
    rssBeforeMiB: mib(rssBefore),
    rssPeakMiB: mib(peak),
  };
}

const cluster = new ProcessCluster("list-keys-bench");
const results: Listing[] = [];
try {
  const nodes = await startThreeNodes(cluster);
  const urls = nodes.map((node) => node.url);
  const small = Math.max(1, Math.floor(KEYS / 4));
  await writeAll(urls, "small", small);
  await writeAll(urls, "large", KEYS);
  await writeAll(urls, "other", OTHER_KEYS);
  process.stderr.write(`wrote ${small + KEYS + OTHER_KEYS} keys\n`);
  const url = urls[0] ?? "";
  for (const [bucket, count] of [
    ["small", small],
    ["large", KEYS],
  ] as const) {
    const listing = await measure(url, bucket, count);
    results.push(listing);
    console.log(
      `${bucket}: ${listing.keys} keys in ${listing.seconds} s = ${listing.keysPerSecond} keys/s; ` +
        `${listing.visitedPerKey} records visited per key listed; node1 RSS ` +
        `${listing.rssBeforeMiB} MiB before, ${listing.rssPeakMiB} MiB at peak`,
    );
  }
} finally {
  await cluster.cleanup();
}

const written = await writeBenchReport({
  name: "list-keys",
  description:
    "3 real grapevine processes (rf 3) holding a small and a large bucket beside another bucket's " +
    "keys; each bucket listed from node1 at r=quorum in pages of 10,000 keys. Keys listed per " +
    "second, records visited by the replicas' range scans per key listed, and node1's resident " +
    "memory before and at its peak while listing (sampled every 50 ms).",
  parameters: { keys: KEYS, otherKeys: OTHER_KEYS, pageKeys: PAGE_KEYS, nodes: 3, r: "quorum" },
  results,
});
console.log(`wrote ${written.join(", ")}`);
