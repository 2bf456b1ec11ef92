// A bucket's default levels (issue 17 §2) as the key routes apply them: r, w, pr and pw from the
// bucket's properties when the request names none, the node's otherwise (strict pw/pr, or 0 under
// --sloppy-quorum), and the rules a props PUT is checked against.

import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  applyPatch,
  effectiveProps,
  type BucketDefaults,
  type StoredBucketProps,
} from "../../../src/api/bucket-props.js";
import { registerErrorHandling } from "../../../src/api/errors.js";
import { frameworkErrorHandler, kvRoutes } from "../../../src/api/kv-routes.js";
import { GrapevineError } from "../../../src/core/errors.js";
import type {
  DeleteRequest,
  ReadOutcome,
  ReadRequest,
  WriteOutcome,
  WriteRequest,
} from "../../../src/replication/coordinator-types.js";

const DEFAULTS: BucketDefaults = {
  replicationFactor: 3,
  readConsistency: "quorum",
  writeConsistency: "quorum",
  maxValueBytes: 1_000,
};

/** Records the levels each request reached the coordinator with. */
class LevelRecorder {
  readonly requests: { level: unknown; primaryLevel: unknown }[] = [];

  async write(request: WriteRequest): Promise<WriteOutcome> {
    this.requests.push({ level: request.level, primaryLevel: request.primaryLevel });
    return { timestampUs: 1, acknowledged: 2 };
  }

  async delete(request: DeleteRequest): Promise<WriteOutcome> {
    this.requests.push({ level: request.level, primaryLevel: request.primaryLevel });
    return { timestampUs: 1, acknowledged: 2 };
  }

  async read(request: ReadRequest): Promise<ReadOutcome> {
    this.requests.push({ level: request.level, primaryLevel: request.primaryLevel });
    return { record: undefined, stale: [], answered: 2 };
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function build(
  stored: Record<string, StoredBucketProps>,
  sloppyQuorum = false,
): Promise<{ app: FastifyInstance; coordinator: LevelRecorder }> {
  const coordinator = new LevelRecorder();
  const app = Fastify({ frameworkErrors: frameworkErrorHandler });
  apps.push(app);
  registerErrorHandling(app);
  await app.register(kvRoutes, {
    coordinator,
    replicationFactor: DEFAULTS.replicationFactor,
    readConsistency: DEFAULTS.readConsistency,
    writeConsistency: DEFAULTS.writeConsistency,
    maxValueBytes: DEFAULTS.maxValueBytes,
    sloppyQuorum,
    // No record here expires: any clock will do.
    nowUs: () => 0,
    buckets: { props: (bucket) => effectiveProps(stored[bucket] ?? {}, DEFAULTS) },
  });
  await app.ready();
  return { app, coordinator };
}

describe("a bucket's default levels on its key routes", () => {
  it("takes w, pw, r and pr from the bucket when the request names none", async () => {
    const { app, coordinator } = await build({ b: { w: "all", pw: 1, r: "one", pr: 0 } });
    await app.inject({ method: "PUT", url: "/buckets/b/keys/k", payload: "v" });
    await app.inject({ method: "DELETE", url: "/buckets/b/keys/k" });
    await app.inject({ method: "GET", url: "/buckets/b/keys/k" });
    expect(coordinator.requests).toEqual([
      { level: "all", primaryLevel: 1 },
      { level: "all", primaryLevel: 1 },
      { level: "one", primaryLevel: 0 },
    ]);
  });

  it("lets the request's own w and pw win over the bucket's", async () => {
    const { app, coordinator } = await build({ b: { w: "all", pw: 1 } });
    await app.inject({ method: "PUT", url: "/buckets/b/keys/k?w=quorum&pw=quorum", payload: "v" });
    expect(coordinator.requests).toEqual([{ level: "quorum", primaryLevel: "quorum" }]);
  });

  it("caps the bucket's pw at a lower w the request names; a pw it names itself goes on unchanged (the coordinator checks it)", async () => {
    const { app, coordinator } = await build({ b: { pw: "quorum" } });
    const lowered = await app.inject({
      method: "PUT",
      url: "/buckets/b/keys/k?w=one",
      payload: "v",
    });
    expect(lowered.statusCode).toBe(204);
    await app.inject({ method: "PUT", url: "/buckets/b/keys/k?w=one&pw=quorum", payload: "v" });
    expect(coordinator.requests).toEqual([
      { level: "one", primaryLevel: "one" },
      { level: "one", primaryLevel: "quorum" },
    ]);
  });

  it("leaves pw and pr strict by default, and 0 on a node with --sloppy-quorum on", async () => {
    const strict = await build({});
    await strict.app.inject({ method: "PUT", url: "/kv/k", payload: "v" });
    await strict.app.inject({ method: "GET", url: "/buckets/other/keys/k" });
    expect(strict.coordinator.requests).toEqual([
      { level: "quorum", primaryLevel: undefined },
      { level: "quorum", primaryLevel: undefined },
    ]);
    const sloppy = await build({ strictBucket: { pw: "quorum" } }, true);
    await sloppy.app.inject({ method: "PUT", url: "/kv/k", payload: "v" });
    await sloppy.app.inject({ method: "PUT", url: "/buckets/strictBucket/keys/k", payload: "v" });
    expect(sloppy.coordinator.requests).toEqual([
      { level: "quorum", primaryLevel: 0 },
      { level: "quorum", primaryLevel: "quorum" },
    ]);
  });
});

describe("the rules a props PUT is checked against", () => {
  it("shows unset pr and pw as null (the node's default), never as 0", () => {
    const props = effectiveProps({}, DEFAULTS);
    expect(props.pr).toBeNull();
    expect(props.pw).toBeNull();
  });

  it("refuses pw above w and pr above r with 400 bad_props, and a reset with null", () => {
    const refusal = (patch: Parameters<typeof applyPatch>[1]): unknown => {
      try {
        applyPatch({}, patch, DEFAULTS);
      } catch (error) {
        return error instanceof GrapevineError ? error.code : error;
      }
      return "accepted";
    };
    expect(refusal({ w: "one", pw: "quorum" })).toBe("bad_props");
    expect(refusal({ r: 1, pr: "all" })).toBe("bad_props");
    expect(refusal({ w: "quorum", pw: 0 })).toBe("accepted");
    expect(applyPatch({ pw: 1, w: "all" }, { pw: null }, DEFAULTS)).toEqual({ w: "all" });
  });
});
