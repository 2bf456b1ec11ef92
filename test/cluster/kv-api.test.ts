// The data path across 3 real `grapevine start` processes (rf 3), all healthy: writes through one
// node are read through the others, deletes, binary values, odd keys, refusals, concurrent writers,
// and the `grapevine put/get/del` client.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawHttpRequest } from "../support/http.js";
import {
  closeKvPools,
  errorBody,
  errorCode,
  inParallel,
  kv,
  localRecord,
  nodeAt,
  startThreeNodes,
} from "../support/kv.js";
import {
  GRAPEVINE_BIN,
  REPO_ROOT,
  runGrapevine,
  useProcessCluster,
  withoutGrapevineVariables,
  type ClusterNode,
} from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const MAX_VALUE_BYTES = 65_536;
const KEY_COUNT = 1_000;
const CLIENT_CONCURRENCY = 32;

const cluster = useProcessCluster("kv-api");
let nodes: ClusterNode[] = [];

const node = (index: number): ClusterNode => nodeAt(nodes, index);

beforeAll(async () => {
  nodes = await startThreeNodes(cluster, ["--max-value-bytes", String(MAX_VALUE_BYTES)]);
});

afterAll(async () => {
  await closeKvPools();
});

describe("reads and writes across nodes", () => {
  it("1,000 keys written through one node are read back through each of the others at quorum", async () => {
    const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key-${i}`);
    await inParallel(keys, CLIENT_CONCURRENCY, async (key) => {
      const answer = await kv(node(0).url, "PUT", key, {
        body: `value of ${key}`,
        contentType: "text/plain",
        query: "w=quorum",
      });
      expect(answer.status, key).toBe(204);
      expect(answer.timestamp, key).toMatch(/^\d+$/);
    });
    for (const reader of [node(1), node(2)]) {
      const wrong: string[] = [];
      await inParallel(keys, CLIENT_CONCURRENCY, async (key) => {
        const answer = await kv(reader.url, "GET", key, { query: "r=quorum" });
        if (
          answer.status !== 200 ||
          answer.body.toString() !== `value of ${key}` ||
          answer.contentType !== "text/plain"
        ) {
          wrong.push(`${key}: ${answer.status} ${answer.body.toString().slice(0, 60)}`);
        }
      });
      expect(wrong, `through ${reader.id}`).toEqual([]);
    }
  });

  it("a deleted key answers 404 not_found through every node, at every read level", async () => {
    const put = await kv(node(0).url, "PUT", "doomed", { body: "here" });
    expect(put.status).toBe(204);
    const deleted = await kv(node(1).url, "DELETE", "doomed", { query: "w=quorum" });
    expect(deleted.status).toBe(204);
    expect(BigInt(deleted.timestamp ?? "0")).toBeGreaterThan(BigInt(put.timestamp ?? "0"));
    for (const reader of nodes) {
      for (const level of ["one", "quorum", "all"]) {
        // At r=one a replica that has not applied the tombstone yet may still answer the value for
        // a moment.
        const answer = await waitFor(
          async () => {
            const read = await kv(reader.url, "GET", "doomed", { query: `r=${level}` });
            return read.status === 404 ? read : null;
          },
          { timeoutMs: 5_000, intervalMs: 50, what: `${reader.id} r=${level} to answer 404` },
        );
        expect(errorCode(answer)).toBe("not_found");
      }
    }
  });

  it("binary values come back byte-exact with their content type, through every node", async () => {
    const values = [
      Buffer.alloc(0),
      Buffer.from([0]),
      randomBytes(1),
      randomBytes(50_000),
      Buffer.from([0xff, 0xfe, 0, 0x80]),
    ];
    const types = [
      "application/octet-stream",
      "image/png",
      "application/x-custom; charset=binary",
      "text/plain; charset=latin1",
      "application/json",
    ];
    for (const [index, value] of values.entries()) {
      const key = `binary-${index}`;
      const put = await kv(node(index % 3).url, "PUT", key, {
        body: value,
        contentType: types[index],
      });
      expect(put.status).toBe(204);
      for (const reader of nodes) {
        const answer = await kv(reader.url, "GET", key);
        expect(answer.status).toBe(200);
        expect(answer.body.equals(value), `${key} through ${reader.id}`).toBe(true);
        expect(answer.contentType).toBe(types[index]);
        expect(answer.timestamp).toBe(put.timestamp);
      }
    }
  });

  it("odd keys round-trip: unicode, '/', '%', spaces, a 1024-byte key; 1025 bytes is 400 bad_key", async () => {
    const odd = [
      "ключ-🍇-日本",
      "a/b/c",
      "/leading",
      "100%",
      "%2F-literal",
      "with space",
      "?&=#",
      "+plus+",
      "é".repeat(512),
    ];
    for (const [index, key] of odd.entries()) {
      const put = await kv(node(index % 3).url, "PUT", key, { body: `v:${key}` });
      expect(put.status, key).toBe(204);
      for (const reader of nodes) {
        const answer = await kv(reader.url, "GET", key);
        expect(answer.status, `${key} through ${reader.id}`).toBe(200);
        expect(answer.body.toString(), key).toBe(`v:${key}`);
      }
      // Stored under exactly that key on a replica, not an encoding of it.
      expect((await localRecord(node(0), key))?.value.length).toBe(Buffer.byteLength(`v:${key}`));
    }
    const tooLong = await kv(node(0).url, "PUT", "k".repeat(1025), { body: "v" });
    expect(tooLong.status).toBe(400);
    expect(errorCode(tooLong)).toBe("bad_key");
  });
});

describe("refusals", () => {
  it("answers bad keys and bad levels with 400 and their codes", async () => {
    const cases: [string, "GET" | "PUT" | "DELETE", string][] = [
      ["/kv/", "GET", "bad_key"],
      ["/kv/a/b", "PUT", "bad_key"],
      ["/kv/%E0%A4%A", "GET", "bad_key"],
      ["/kv/%ED%A0%80", "DELETE", "bad_key"],
      ["/kv/k?w=most", "PUT", "bad_consistency"],
      ["/kv/k?r=4", "GET", "bad_consistency"],
      ["/kv/k?w=one&w=all", "DELETE", "bad_consistency"],
    ];
    for (const [path, method, code] of cases) {
      const answer = await kv(node(1).url, method, "", {
        rawPath: path,
        body: method === "PUT" ? "v" : undefined,
      });
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(errorCode(answer), `${method} ${path}`).toBe(code);
    }
  });

  it("refuses a Content-Length over --max-value-bytes with 413 value_too_large before reading the body", async () => {
    const answer = await rawHttpRequest({
      port: node(0).port,
      head: `PUT /kv/huge HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/octet-stream\nContent-Length: ${MAX_VALUE_BYTES * 100}`,
      body: Buffer.alloc(1024),
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({
      error: "value_too_large",
      bytesMax: MAX_VALUE_BYTES,
    });
    expect(JSON.parse(answer.text).message).toContain(String(MAX_VALUE_BYTES));
    expect((await kv(node(0).url, "GET", "huge")).status).toBe(404);
  });

  it("answers a method a path does not take with 405 method_not_allowed and Allow, and fastify's refusals without its codes", async () => {
    const patch = await request(`${node(0).url}/kv/k`, { method: "PATCH", body: "v" });
    const patchBody = (await patch.body.json()) as Record<string, unknown>;
    expect(patch.statusCode).toBe(405);
    expect(patch.headers["allow"]).toBe("DELETE, GET, HEAD, PUT");
    expect(patchBody).toMatchObject({ error: "method_not_allowed" });

    const badJson = await request(`${node(0).url}/admin/repair?dryRun=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    const badJsonText = await badJson.body.text();
    expect(badJson.statusCode).toBe(400);
    expect(JSON.parse(badJsonText)).toEqual({ error: "bad_request", message: expect.any(String) });
    expect(badJsonText).not.toContain("FST_");
  });

  it("refuses a chunked upload with 413 once it passes the limit, having read only about the limit", async () => {
    const chunkBytes = 16 * 1024;
    const chunks = (MAX_VALUE_BYTES * 20) / chunkBytes;
    let produced = 0;
    const body = Readable.from(
      (async function* () {
        for (let i = 0; i < chunks; i++) {
          produced += chunkBytes;
          yield Buffer.alloc(chunkBytes, 7);
          // Paced, so the answer can arrive while the upload is still going.
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })(),
    );
    const response = await request(`${node(2).url}/kv/chunked`, {
      method: "PUT",
      body,
      headers: { "content-type": "application/octet-stream" },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.body.text();
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(text)).toMatchObject({ error: "value_too_large" });
    expect(produced).toBeLessThan((MAX_VALUE_BYTES * 20) / 2);
    expect((await kv(node(2).url, "GET", "chunked")).status).toBe(404);
  });

  it("a value exactly at --max-value-bytes is accepted", async () => {
    const value = randomBytes(MAX_VALUE_BYTES);
    expect((await kv(node(1).url, "PUT", "at-limit", { body: value })).status).toBe(204);
    expect((await kv(node(2).url, "GET", "at-limit")).body.equals(value)).toBe(true);
  });
});

describe("concurrent writers", () => {
  it("20 concurrent writers to one key leave every replica holding the same final value", async () => {
    const writers = Array.from({ length: 20 }, (_, i) => i);
    const answers = await Promise.all(
      writers.map((i) =>
        kv(node(i % 3).url, "PUT", "contended", { body: `writer-${i}`, query: "w=quorum" }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(writers.map(() => 204));
    // Every write reaches all three replicas (quorum answers before the third); wait for the last
    // ones.
    const final = await waitFor(
      async () => {
        const records = await Promise.all(
          nodes.map((replica) => localRecord(replica, "contended")),
        );
        const [first, ...rest] = records;
        if (first === undefined) return null;
        const same = rest.every(
          (other) =>
            other !== undefined &&
            other.timestampUs === first.timestampUs &&
            other.writer === first.writer &&
            Buffer.from(other.value).equals(Buffer.from(first.value)),
        );
        return same ? first : null;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: "all three replicas to hold the same version" },
    );
    // The survivor is the write with the newest timestamp among those acknowledged.
    const newest = answers.reduce((best, answer) =>
      BigInt(answer.timestamp ?? "0") > BigInt(best.timestamp ?? "0") ? answer : best,
    );
    expect(String(final.timestampUs)).toBe(newest.timestamp);
    for (const reader of nodes) {
      const read = await kv(reader.url, "GET", "contended", { query: "r=all" });
      expect(read.body.toString()).toBe(Buffer.from(final.value).toString());
    }
  });
});

/** Runs `grapevine <args>` with `input` on stdin. */
function runWithStdin(
  args: readonly string[],
  input: Buffer,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GRAPEVINE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: withoutGrapevineVariables(process.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
    child.stdin.end(input);
  });
}

describe("grapevine put, get and del", () => {
  it("round-trips a value given as an argument and one piped on stdin, and exits 1 on a key not found", async () => {
    const url = node(0).url;
    const put = await runGrapevine([
      "put",
      "cli key/1",
      "hello from the cli",
      "--node",
      url,
      "--w",
      "all",
    ]);
    expect(put.code, put.stderr).toBe(0);
    const get = await runGrapevine(["get", "cli key/1", "--node", node(1).url, "--r", "quorum"]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe("hello from the cli");

    const bytes = randomBytes(5_000);
    const piped = await runWithStdin(
      ["put", "cli-binary", "--node", url, "--content-type", "application/x-test"],
      bytes,
    );
    expect(piped.code, piped.stderr).toBe(0);
    const back = await runWithStdin(["get", "cli-binary", "--node", node(2).url], Buffer.alloc(0));
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.equals(bytes)).toBe(true);
    expect((await kv(url, "GET", "cli-binary")).contentType).toBe("application/x-test");

    const del = await runGrapevine(["del", "cli key/1", "--node", url]);
    expect(del.code, del.stderr).toBe(0);
    const missing = await runGrapevine(["get", "cli key/1", "--node", node(2).url]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr.trim().split("\n")).toEqual(['grapevine: not found: "cli key/1"']);
  });

  it("exits 2 with one line on a bad level or an over-long key, and 1 with one line on a refused request", async () => {
    const badLevel = await runGrapevine(["put", "k", "v", "--node", node(0).url, "--w", "most"]);
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr.trim().split("\n")).toHaveLength(1);
    const longKey = await runGrapevine(["get", "k".repeat(1025), "--node", node(0).url]);
    expect(longKey.code).toBe(2);
    const tooMany = await runGrapevine(["put", "k", "v", "--node", node(0).url, "--w", "7"]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/^grapevine: put failed: 400 bad_consistency: /);
    expect(tooMany.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("put, get and del print --help naming --node, and exit 0", async () => {
    for (const name of ["put", "get", "del"]) {
      const help = await runGrapevine([name, "--help"]);
      expect(help.code, name).toBe(0);
      expect(help.stdout).toContain(`Usage: grapevine ${name}`);
      expect(help.stdout).toContain("--node");
    }
  });
});

describe("metrics", () => {
  it("GET /metrics shows the client requests per route and consistency, replica batches and storage size", async () => {
    const text = (await kv(node(0).url, "GET", "", { rawPath: "/metrics" })).body.toString();
    expect(text).toMatch(
      /grapevine_kv_requests_total\{route="put",consistency="quorum",status="204"\} \d+/,
    );
    expect(text).toMatch(/grapevine_kv_request_duration_seconds_bucket\{le="0\.005",route="get"/);
    expect(text).toMatch(/grapevine_replica_request_ops_count \d+/);
    expect(text).toMatch(/grapevine_storage_keys \d+/);
    expect(text).toMatch(/grapevine_storage_bytes \d+/);
    expect(errorBody(await kv(node(0).url, "GET", "absent-for-metrics"))).toMatchObject({
      error: "not_found",
    });
  });
});
