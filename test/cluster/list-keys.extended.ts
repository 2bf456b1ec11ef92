// Listing a bucket's keys on real `grapevine start` processes (issue 17 §4): a few thousand keys in
// two buckets on three nodes, some deleted; paging through with a small limit from every node
// gives each live key of the bucket exactly once, in one stable order, and nothing else; the CLI
// and the client library list the same; bad input is a 400 with the SPEC §2 body.

import { describe, expect, it } from "vitest";
import { Grapevine } from "../../src/client/index.js";
import { httpRequest } from "../support/http.js";
import { inParallel, nodeAt, startThreeNodes, waitForLiveness } from "../support/kv.js";
import { runGrapevine, useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("list-keys");

const KEYS_PER_BUCKET = 1_500;
const WRITE_CONCURRENCY = 64;

interface Page {
  readonly keys: string[];
  readonly next: string | null;
}

async function listPage(url: string): Promise<Page> {
  const answer = await httpRequest(url, { timeoutMs: 10_000 });
  expect(answer.status, answer.text).toBe(200);
  expect(answer.contentType).toMatch(/^application\/x-ndjson/);
  const lines = answer.text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const last = lines.pop();
  const keys = lines.map((line) => {
    expect(Object.keys(line)).toEqual(["key"]);
    return line.key as string;
  });
  if (last?.done === true) return { keys, next: null };
  expect(typeof last?.next, JSON.stringify(last)).toBe("string");
  return { keys, next: last?.next as string };
}

async function listAll(base: string, bucket: string, limit: number, r = ""): Promise<string[]> {
  const keys: string[] = [];
  let next: string | null = null;
  do {
    const after: string = next === null ? "" : `&after=${next}`;
    const page = await listPage(`${base}/buckets/${bucket}/keys?limit=${limit}${after}${r}`);
    expect(page.keys.length).toBeLessThanOrEqual(limit);
    keys.push(...page.keys);
    next = page.next;
  } while (next !== null);
  return keys;
}

async function write(base: string, bucket: string, key: string, method: "PUT" | "DELETE") {
  const answer = await httpRequest(
    `${base}/buckets/${bucket}/keys/${encodeURIComponent(key)}?w=quorum`,
    {
      method,
      ...(method === "PUT" ? { body: `value of ${key}` } : {}),
    },
  );
  expect(answer.status, answer.text).toBe(204);
}

describe("listing a bucket's keys on a real cluster", () => {
  it("pages through each live key once, in one order from every node, at quorum", async () => {
    const nodes = await startThreeNodes(cluster, ["--gossip-interval-ms", "200"]);
    const urls = nodes.map((node) => node.url);
    const names = Array.from({ length: KEYS_PER_BUCKET }, (_, i) => `key-${i}/é ${i % 7}`);
    const writes = [
      ...names.map((key, i) => ({ bucket: "photos", key, i })),
      ...names.slice(0, 500).map((key, i) => ({ bucket: "videos", key: `v-${key}`, i })),
      ...names.slice(0, 50).map((key, i) => ({ bucket: "default", key: `d-${key}`, i })),
    ];
    await inParallel(writes, WRITE_CONCURRENCY, (w) =>
      write(urls[w.i % urls.length] ?? "", w.bucket, w.key, "PUT"),
    );
    const deleted = new Set(names.filter((_, i) => i % 5 === 0));
    await inParallel([...deleted], WRITE_CONCURRENCY, (key) =>
      write(nodeAt(nodes, 1).url, "photos", key, "DELETE"),
    );
    const live = names.filter((key) => !deleted.has(key));

    const first = await listAll(nodeAt(nodes, 0).url, "photos", 97);
    expect(first.length).toBe(live.length);
    expect(new Set(first).size).toBe(first.length);
    expect([...first].sort()).toEqual([...live].sort());
    for (const url of urls.slice(1)) expect(await listAll(url, "photos", 250)).toEqual(first);

    const videos = await listAll(nodeAt(nodes, 2).url, "videos", 1_000);
    expect([...videos].sort()).toEqual(
      names
        .slice(0, 500)
        .map((key) => `v-${key}`)
        .sort(),
    );
    const plain = await listAll(nodeAt(nodes, 1).url, "default", 10);
    expect([...plain].sort()).toEqual(
      names
        .slice(0, 50)
        .map((key) => `d-${key}`)
        .sort(),
    );
    expect(await listAll(nodeAt(nodes, 1).url, "empty", 10)).toEqual([]);

    const one = await listAll(nodeAt(nodes, 0).url, "photos?r=one&x=1".split("?")[0] ?? "", 5_000);
    expect(one).toEqual(first);
    // r=all needs every replica live: on a loaded machine a peer may be seen down for a moment, and
    // the listing is then refused with 503 (CI saw one), so it is asked until all are seen live.
    const allUrl = `${nodeAt(nodes, 2).url}/buckets/photos/keys?r=all&limit=10000`;
    const all = await waitFor(() => listPage(allUrl), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "an r=all listing with every replica seen live",
    });
    expect([all.keys, all.next]).toEqual([first, null]);

    const base = nodeAt(nodes, 0).url;
    const token = (await listPage(`${base}/buckets/photos/keys?limit=3`)).next ?? "";
    const refusals: [string, string][] = [
      ["/buckets/no!pe/keys", "bad_bucket"],
      ["/buckets/photos/keys?limit=0", "bad_request"],
      ["/buckets/photos/keys?limit=10001", "bad_request"],
      ["/buckets/photos/keys?limit=ten", "bad_request"],
      ["/buckets/photos/keys?limit=1&limit=2", "bad_request"],
      ["/buckets/photos/keys?after=%%%", "bad_request"],
      ["/buckets/photos/keys?after=bm90LWEtdG9rZW4", "bad_request"],
      [`/buckets/videos/keys?after=${token}`, "bad_request"],
      ["/buckets/photos/keys?r=most", "bad_consistency"],
      ["/buckets/photos/keys?r=4", "bad_consistency"],
    ];
    for (const [path, code] of refusals) {
      const answer = await httpRequest(`${base}${path}`);
      expect([path, answer.status], answer.text).toEqual([path, 400]);
      const body = JSON.parse(answer.text) as { error: string; message: string };
      expect([path, body.error]).toEqual([path, code]);
      expect(body.message.length).toBeGreaterThan(0);
    }

    // The CLI prints the same keys, one per line; the client library iterates them.
    const cli = await runGrapevine(["keys", "photos", "--node", nodeAt(nodes, 1).url]);
    expect([cli.code, cli.stderr]).toEqual([0, ""]);
    expect(cli.stdout).toBe(first.map((key) => `${key}\n`).join(""));
    const few = await runGrapevine(["keys", "photos", "--limit", "5", "--node", base]);
    expect(few.stdout).toBe(
      first
        .slice(0, 5)
        .map((key) => `${key}\n`)
        .join(""),
    );
    const badArgs = [["no!pe"], ["photos", "--limit", "0"], ["photos", "--r", "most"]];
    const refused = await Promise.all(
      badArgs.map((args) => runGrapevine(["keys", ...args, "--node", base])),
    );
    refused.forEach((result, i) => {
      expect([badArgs[i], result.code, result.stdout]).toEqual([badArgs[i], 2, ""]);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    });
    const db = new Grapevine({ nodes: [nodeAt(nodes, 2).url] });
    try {
      const viaClient: string[] = [];
      for await (const key of db.keys("photos", { pageKeys: 300 })) viaClient.push(key);
      expect(viaClient).toEqual(first);

      // One node down: at once (the killed replica fails mid-listing and another stands in), and
      // once it is known down (every range still has a quorum; `all` is refused before any line).
      await cluster.kill("node3");
      expect(await listAll(base, "photos", 400)).toEqual(first);
      const fromClient: string[] = [];
      for await (const key of db.keys("photos", { r: "quorum" })) fromClient.push(key);
      expect(fromClient).toEqual(first);
      await waitForLiveness(cluster, "node1", "node3", false);
      expect(await listAll(base, "photos", 400)).toEqual(first);
      const allDown = await httpRequest(`${base}/buckets/photos/keys?r=all`);
      expect([allDown.status, JSON.parse(allDown.text).error]).toEqual([503, "unavailable"]);
    } finally {
      await db.close();
    }
  }, 60_000);
});
