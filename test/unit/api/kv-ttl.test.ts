// Time to live at the key routes (issue 17 §3), on a clock the test moves: X-Grapevine-TTL on a
// PUT, else the bucket's ttlSeconds, reaches the coordinator; a GET gives the seconds left and,
// from the expiry on, 404 not_found; a bad header is 400 bad_ttl in the SPEC §2 body.

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { effectiveProps, type BucketDefaults } from "../../../src/api/bucket-props.js";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { frameworkErrorHandler, kvRoutes } from "../../../src/api/kv-routes.js";
import type {
  DeleteRequest,
  ReadOutcome,
  ReadRequest,
  WriteOutcome,
  WriteRequest,
} from "../../../src/replication/coordinator-types.js";
import { expiryOf } from "../../../src/storage/expiry.js";
import { tombstoneRecord, type StoredRecord } from "../../../src/storage/record.js";

const DEFAULTS: BucketDefaults = {
  replicationFactor: 3,
  readConsistency: "quorum",
  writeConsistency: "quorum",
  maxValueBytes: 1_000,
};
const SECOND_US = 1_000_000;

/** Stamps writes with the test's clock and keeps them as the coordinator would, expiry included. */
class ClockedCoordinator {
  nowUs = 1_000 * SECOND_US;
  readonly records = new Map<string, StoredRecord>();
  readonly ttls: (number | undefined)[] = [];

  async write(request: WriteRequest): Promise<WriteOutcome> {
    this.ttls.push(request.ttlSeconds);
    const timestampUs = ++this.nowUs;
    const record = {
      value: Buffer.from(request.value),
      contentType: request.contentType,
      timestampUs,
      writer: "n1",
      tombstone: false,
    };
    const ttl = request.ttlSeconds;
    this.records.set(
      request.key,
      ttl === undefined ? record : { ...record, expiresAtUs: expiryOf(timestampUs, ttl) },
    );
    return { timestampUs, acknowledged: 2 };
  }

  async delete(request: DeleteRequest): Promise<WriteOutcome> {
    this.records.set(request.key, tombstoneRecord(++this.nowUs, "n1"));
    return { timestampUs: this.nowUs, acknowledged: 2 };
  }

  async read(request: ReadRequest): Promise<ReadOutcome> {
    return { record: this.records.get(request.key), stale: [], answered: 2 };
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function build(): Promise<{ app: FastifyInstance; coordinator: ClockedCoordinator }> {
  const coordinator = new ClockedCoordinator();
  const app = Fastify({ frameworkErrors: frameworkErrorHandler });
  apps.push(app);
  registerErrorHandling(app);
  await app.register(kvRoutes, {
    coordinator,
    replicationFactor: DEFAULTS.replicationFactor,
    readConsistency: DEFAULTS.readConsistency,
    writeConsistency: DEFAULTS.writeConsistency,
    maxValueBytes: DEFAULTS.maxValueBytes,
    nowUs: () => coordinator.nowUs,
    buckets: {
      props: (bucket) => effectiveProps(bucket === "cache" ? { ttlSeconds: 30 } : {}, DEFAULTS),
    },
  });
  await app.ready();
  return { app, coordinator };
}

describe("time to live at the key routes", () => {
  it("expires a value written with X-Grapevine-TTL: seconds left, then 404", async () => {
    const { app, coordinator } = await build();
    const put = await app.inject({
      method: "PUT",
      url: "/kv/session",
      headers: { "x-grapevine-ttl": "2" },
      payload: "token",
    });
    expect(put.statusCode, put.body).toBe(204);
    const fresh = await app.inject({ method: "GET", url: "/kv/session" });
    expect([fresh.statusCode, fresh.body, fresh.headers["x-grapevine-ttl"]]).toEqual([
      200,
      "token",
      "2",
    ]);
    coordinator.nowUs += 1_500_000;
    expect(
      (await app.inject({ method: "GET", url: "/kv/session" })).headers["x-grapevine-ttl"],
    ).toBe("1");
    coordinator.nowUs += 500_000;
    const expired = await app.inject({ method: "GET", url: "/kv/session" });
    expect([expired.statusCode, JSON.parse(expired.body).error]).toEqual([404, "not_found"]);
  });

  it("takes the bucket's ttlSeconds when the header is absent; the header wins, 0 meaning never", async () => {
    const { app, coordinator } = await build();
    const put = (url: string, headers: Record<string, string> = {}) =>
      app.inject({ method: "PUT", url, headers, payload: "v" });
    await put("/buckets/cache/keys/a");
    await put("/buckets/cache/keys/b", { "x-grapevine-ttl": "5" });
    await put("/buckets/cache/keys/c", { "x-grapevine-ttl": "0" });
    await put("/kv/d");
    expect(coordinator.ttls).toEqual([30, 5, undefined, undefined]);
    const a = await app.inject({ method: "GET", url: "/buckets/cache/keys/a" });
    expect(a.headers["x-grapevine-ttl"]).toBe("30");
    const c = await app.inject({ method: "GET", url: "/buckets/cache/keys/c" });
    expect([c.statusCode, c.headers["x-grapevine-ttl"]]).toEqual([200, undefined]);
  });

  it("refuses a bad X-Grapevine-TTL with 400 bad_ttl and writes nothing", async () => {
    const { app, coordinator } = await build();
    for (const ttl of ["-1", "1.5", "soon", "315360001"]) {
      const refused = await app.inject({
        method: "PUT",
        url: "/buckets/cache/keys/k",
        headers: { "x-grapevine-ttl": ttl },
        payload: "v",
      });
      expect(refused.statusCode, ttl).toBe(400);
      expect(JSON.parse(refused.body)).toMatchObject({ error: "bad_ttl", secondsMax: 315_360_000 });
    }
    expect(coordinator.ttls).toEqual([]);
  });
});
