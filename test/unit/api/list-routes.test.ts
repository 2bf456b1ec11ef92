import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { frameworkErrorHandler } from "../../../src/api/kv-routes.js";
import { ListStats, listRoutes, LIST_ROUTE_LIMITS } from "../../../src/api/list-routes.js";
import { encodeListToken, positionAfterKey } from "../../../src/api/list-token.js";
import { GrapevineError } from "../../../src/core/errors.js";
import type { KeyListRequest } from "../../../src/replication/key-lister.js";
import type { MergedKey } from "../../../src/replication/list-merge.js";

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** A lister over fixed keys (listed in the order given), failing after `failAfter` keys. */
class FakeLister {
  readonly requests: KeyListRequest[] = [];
  unavailable = false;

  constructor(
    readonly keys: string[],
    readonly failAfter = Number.POSITIVE_INFINITY,
  ) {}

  checkAvailable(): void {
    if (this.unavailable)
      throw new GrapevineError("unavailable", "too few live replicas", { required: 2, alive: 1 });
  }

  async *list(request: KeyListRequest): AsyncGenerator<MergedKey> {
    this.requests.push(request);
    const start =
      request.after === null
        ? 0
        : this.keys.findIndex((key) => request.after?.storedKey.endsWith(`\u0000${key}`)) + 1;
    for (let i = start; i < this.keys.length; i++) {
      if (i - start >= this.failAfter) throw new GrapevineError("unavailable", "replica lost");
      const key = this.keys[i] as string;
      yield { key, position: positionAfterKey("photos", key) };
    }
  }
}

async function build(lister: FakeLister): Promise<{ app: FastifyInstance; stats: ListStats }> {
  const app = Fastify({ frameworkErrors: frameworkErrorHandler });
  apps.push(app);
  registerErrorHandling(app);
  const stats = new ListStats();
  await app.register(listRoutes, {
    lister: {
      checkAvailable: () => lister.checkAvailable(),
      keys: (request) => lister.list(request),
    },
    replicationFactor: 3,
    readConsistency: "quorum",
    buckets: { props: (bucket) => ({ r: bucket === "strict" ? "all" : "quorum" }) },
    stats,
  });
  await app.ready();
  return { app, stats };
}

function lines(body: string): Record<string, unknown>[] {
  return body
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("GET /buckets/:bucket/keys", () => {
  it("streams a page of NDJSON keys, then the next token; the token resumes after the last", async () => {
    const lister = new FakeLister(["a", "b", "c", "d", "e"]);
    const { app, stats } = await build(lister);
    const first = await app.inject({ url: "/buckets/photos/keys?limit=2" });
    expect(first.statusCode).toBe(200);
    expect(first.headers["content-type"]).toMatch(/^application\/x-ndjson/);
    const token = encodeListToken("photos", "b");
    expect(lines(first.body)).toEqual([{ key: "a" }, { key: "b" }, { next: token }]);
    const rest = await app.inject({ url: `/buckets/photos/keys?after=${token}` });
    expect(lines(rest.body)).toEqual([{ key: "c" }, { key: "d" }, { key: "e" }, { done: true }]);
    expect(lister.requests[1]?.after).toEqual(positionAfterKey("photos", "b"));
    expect([stats.listings, stats.keysListed]).toEqual([2, 5]);
  });

  it("reads at the request's r, else the bucket's, else the node's", async () => {
    const lister = new FakeLister([]);
    const { app } = await build(lister);
    await app.inject({ url: "/buckets/photos/keys?r=one" });
    await app.inject({ url: "/buckets/strict/keys" });
    await app.inject({ url: "/buckets/photos/keys" });
    expect(lister.requests.map((request) => request.level)).toEqual(["one", "all", "quorum"]);
  });

  it("ends with an error line, not a done line, when the listing fails midway", async () => {
    const { app, stats } = await build(new FakeLister(["a", "b", "c"], 2));
    const answer = await app.inject({ url: "/buckets/photos/keys" });
    expect(answer.statusCode).toBe(200);
    expect(lines(answer.body)).toEqual([
      { key: "a" },
      { key: "b" },
      { error: "unavailable", message: "replica lost" },
    ]);
    expect(stats.failures).toBe(1);
  });

  it("refuses bad input before the first line with the SPEC §2 body", async () => {
    const lister = new FakeLister(["a"]);
    const { app } = await build(lister);
    const cases: [string, number, string][] = [
      ["/buckets/no!pe/keys", 400, "bad_bucket"],
      ["/buckets/photos/keys?limit=0", 400, "bad_request"],
      [`/buckets/photos/keys?limit=${LIST_ROUTE_LIMITS.limitMax + 1}`, 400, "bad_request"],
      ["/buckets/photos/keys?limit=1.5", 400, "bad_request"],
      ["/buckets/photos/keys?limit=-1", 400, "bad_request"],
      ["/buckets/photos/keys?limit=1&limit=2", 400, "bad_request"],
      ["/buckets/photos/keys?after=", 400, "bad_request"],
      [`/buckets/videos/keys?after=${encodeListToken("photos", "a")}`, 400, "bad_request"],
      ["/buckets/photos/keys?r=4", 400, "bad_consistency"],
      ["/buckets/photos/keys?r=", 400, "bad_consistency"],
    ];
    for (const [url, status, code] of cases) {
      const answer = await app.inject({ url });
      expect([url, answer.statusCode]).toEqual([url, status]);
      expect([url, JSON.parse(answer.body).error]).toEqual([url, code]);
    }
    lister.unavailable = true;
    const refused = await app.inject({ url: "/buckets/photos/keys" });
    expect([refused.statusCode, JSON.parse(refused.body)]).toEqual([
      503,
      { error: "unavailable", message: "too few live replicas", required: 2, alive: 1 },
    ]);
    expect(lister.requests).toEqual([]);
  });
});
