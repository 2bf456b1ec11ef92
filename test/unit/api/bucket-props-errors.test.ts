// What a refused bucket props body is told, through the real HTTP server and its validator: the
// property and what it takes, never the list of every union branch the validator tried.

import { afterAll, describe, expect, it } from "vitest";
import { ClusterMetadata } from "../../../src/cluster/metadata.js";
import { BucketBook } from "../../../src/api/bucket-book.js";
import { bucketRoutes } from "../../../src/api/bucket-routes.js";
import { createHttpServer } from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";

const app = createHttpServer(TEST_HTTP_LIMITS);
const book = new BucketBook({
  metadata: new ClusterMetadata(),
  self: "n1",
  stamp: () => 1_000_000,
  defaults: {
    replicationFactor: 3,
    readConsistency: "quorum",
    writeConsistency: "quorum",
    maxValueBytes: 1 << 20,
  },
});
await app.register(bucketRoutes, { book });
afterAll(() => app.close());

async function refusal(body: string, contentType = "application/json"): Promise<string> {
  const answer = await app.inject({
    method: "PUT",
    url: "/buckets/users/props",
    headers: { "content-type": contentType },
    payload: body,
  });
  expect(answer.statusCode).toBe(400);
  const parsed = answer.json<{ error: string; message: string }>();
  expect(parsed.error).toBe("bad_props");
  return parsed.message;
}

describe("a refused bucket props body", () => {
  it.each([
    [{ w: 0 }, "bad bucket property w: it takes one, quorum, all or an integer from 1 to"],
    [{ pr: -1 }, "bad bucket property pr: it takes one, quorum, all or an integer from 0 to"],
    [{ ttlSeconds: 1.5 }, "bad bucket property ttlSeconds: it takes whole seconds from 1"],
    [{ maxValueBytes: "big" }, "bad bucket property maxValueBytes: it takes bytes from 1"],
    [{ conflictResolution: "crdt" }, "bad bucket property conflictResolution: it takes lww or"],
  ])("names the property of %j and what it takes", async (body, start) => {
    expect(await refusal(JSON.stringify(body))).toMatch(new RegExp(`^${start}`));
  });

  it("names an unknown property and lists the known ones", async () => {
    expect(await refusal('{"nope":1}')).toBe(
      "unknown bucket property 'nope' (known: conflictResolution, r, w, pr, pw, ttlSeconds, " +
        "maxValueBytes)",
    );
  });

  it("tells a body that is not an object to send JSON", async () => {
    expect(await refusal("[]")).toMatch(/JSON object/);
    expect(await refusal('{"w":"one"}', "text/plain")).toMatch(/JSON object/);
  });

  it("takes a good body", async () => {
    const answer = await app.inject({
      method: "PUT",
      url: "/buckets/users/props",
      payload: { w: "one" },
    });
    expect(answer.statusCode).toBe(200);
  });
});
