// Listing 100,000 keys on three real processes (issue 17 §4, "How it is shown"): every key written
// before the listing began is listed exactly once while writes to other keys go on, and again
// while one node is down; no key is listed that nobody wrote. The keys are `/kv`'s, listed as the
// bucket `default`, so the data written before buckets existed is what is listed.

import { afterAll, describe, expect, it } from "vitest";
import { httpRequest } from "../support/http.js";
import {
  closeKvPools,
  inParallel,
  kv,
  nodeAt,
  startThreeNodes,
  waitForLiveness,
} from "../support/kv.js";
import { useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("list-100k");

const KEYS = 100_000;
const WRITE_CONCURRENCY = 128;
/** Keys per listing page: ten pages for the whole bucket. */
const PAGE_KEYS = 10_000;
const LISTING_TIMEOUT_MS = 240_000;

afterAll(async () => {
  await closeKvPools();
});

/** Every key of `default` listed from `base` at quorum, page by page, in listing order. */
async function listAll(base: string): Promise<string[]> {
  const keys: string[] = [];
  let after = "";
  for (;;) {
    const url = `${base}/buckets/default/keys?limit=${PAGE_KEYS}&r=quorum${after}`;
    // A replica seen down for a moment on a loaded machine makes a range short of `r`: that page is
    // refused with 503 before its first line and asked again.
    const answer = await waitFor(
      async () => {
        const page = await httpRequest(url, { timeoutMs: 60_000 });
        return page.status === 503 ? null : page;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `a listing page without 503 from ${base}` },
    );
    expect(answer.status, answer.text.slice(0, 300)).toBe(200);
    const lines = answer.text.trimEnd().split("\n");
    const last = JSON.parse(lines.pop() ?? "{}") as { next?: string; done?: boolean };
    for (const line of lines) keys.push((JSON.parse(line) as { key: string }).key);
    if (last.done === true) return keys;
    expect(typeof last.next, JSON.stringify(last)).toBe("string");
    after = `&after=${last.next}`;
  }
}

/** Writes `other-N` keys through every node until stopped; the keys it wrote. */
function writeOthersUntil(urls: readonly string[], stopped: () => boolean): Promise<Set<string>> {
  const written = new Set<string>();
  const worker = async (lane: number): Promise<void> => {
    for (let n = lane; !stopped(); n += 8) {
      const key = `other-${n}`;
      // Attempted is enough: a write the cluster refused or lost may still be listed.
      written.add(key);
      await kv(urls[n % urls.length] ?? "", "PUT", key, { query: "w=one", body: "x" }).catch(
        () => undefined,
      );
    }
  };
  return Promise.all(Array.from({ length: 8 }, (_, lane) => worker(lane))).then(() => written);
}

function checkListing(listed: readonly string[], before: ReadonlySet<string>, others: Set<string>) {
  const seen = new Set<string>();
  const repeated = listed.filter((key) => (seen.has(key) ? true : (seen.add(key), false)));
  expect(repeated.slice(0, 5), "keys listed twice").toEqual([]);
  const missing = [...before].filter((key) => !seen.has(key));
  expect(missing.length, `missing, e.g. ${missing.slice(0, 5).join(", ")}`).toBe(0);
  const unknown = listed.filter((key) => !before.has(key) && !others.has(key));
  expect(unknown.slice(0, 5), "keys nobody wrote").toEqual([]);
}

describe("listing 100,000 keys on a real cluster", () => {
  it(
    "lists each key once while other writes go on, and again with a node down",
    async () => {
      const nodes = await startThreeNodes(cluster);
      const urls = nodes.map((node) => node.url);
      const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
      await inParallel(keys, WRITE_CONCURRENCY, async (key) => {
        const answer = await kv(urls[Number(key.slice(4)) % urls.length] ?? "", "PUT", key, {
          query: "w=quorum",
          body: key,
        });
        expect(answer.status).toBe(204);
      });
      const before = new Set(keys);

      let stop = false;
      const others = writeOthersUntil(urls, () => stop);
      const startedMs = Date.now();
      const listed = await listAll(nodeAt(nodes, 0).url);
      const seconds = (Date.now() - startedMs) / 1000;
      stop = true;
      const othersWritten = await others;
      console.log(
        `list-100k: ${listed.length} keys listed in ${seconds.toFixed(1)} s ` +
          `(${Math.round(listed.length / seconds)} keys/s) beside ${othersWritten.size} writes`,
      );
      checkListing(listed, before, othersWritten);

      await cluster.kill("node3");
      await waitForLiveness(cluster, "node1", "node3", false);
      const withNodeDown = await listAll(nodeAt(nodes, 0).url);
      checkListing(withNodeDown, before, othersWritten);
    },
    LISTING_TIMEOUT_MS,
  );
});
