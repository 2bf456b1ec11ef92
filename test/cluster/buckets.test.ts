// Buckets on real `grapevine start` processes (issue 17 §1, §2): bucket properties set on one node
// reach every node by gossip within seconds; a bucket's keys are written, read and deleted at
// quorum; the bucket `default` is /kv; bad bucket names and bad properties are 400s.

import { describe, expect, it } from "vitest";
import { httpRequest } from "../support/http.js";
import { useProcessCluster } from "../support/process-cluster.js";
import { waitFor } from "../support/wait-for.js";

const cluster = useProcessCluster("buckets");
const JSON_TYPE = { "content-type": "application/json" };

describe("buckets on a real cluster", () => {
  it("spreads props, serves bucket keys at quorum, and refuses bad names and props", async () => {
    const gossip = ["--gossip-interval-ms", "200"];
    const a = await cluster.start({ id: "b1", args: gossip });
    const b = await cluster.start({ id: "b2", seeds: [a.address], args: gossip });
    const c = await cluster.start({ id: "b3", seeds: [a.address], args: gossip });
    const nodes = [a, b, c];

    const set = await httpRequest(`${a.url}/buckets/users/props`, {
      method: "PUT",
      headers: JSON_TYPE,
      body: JSON.stringify({ w: "all", r: "quorum", ttlSeconds: 60 }),
    });
    expect(set.status, set.text).toBe(200);
    for (const node of nodes)
      await waitFor(
        async () => {
          const got = await httpRequest(`${node.url}/buckets/users/props`);
          return (JSON.parse(got.text) as { props: { w: unknown } }).props.w === "all";
        },
        { timeoutMs: 10_000, intervalMs: 100, what: `props on ${node.url}` },
      );

    const put = await httpRequest(`${b.url}/buckets/users/keys/k1?w=quorum`, {
      method: "PUT",
      body: "v1",
    });
    expect(put.status, put.text).toBe(204);
    const got = await httpRequest(`${c.url}/buckets/users/keys/k1?r=quorum`);
    expect([got.status, got.text]).toEqual([200, "v1"]);
    // Not the default bucket's k1.
    expect((await httpRequest(`${c.url}/kv/k1`)).status).toBe(404);
    const del = await httpRequest(`${a.url}/buckets/users/keys/k1?w=quorum`, { method: "DELETE" });
    expect(del.status, del.text).toBe(204);
    expect((await httpRequest(`${b.url}/buckets/users/keys/k1`)).status).toBe(404);

    // The bucket `default` is /kv.
    await httpRequest(`${a.url}/kv/shared`, { method: "PUT", body: "same" });
    const viaBucket = await httpRequest(`${b.url}/buckets/default/keys/shared`);
    expect([viaBucket.status, viaBucket.text]).toEqual([200, "same"]);

    const badName = await httpRequest(`${a.url}/buckets/no!pe/keys/k`);
    expect([badName.status, JSON.parse(badName.text).error]).toEqual([400, "bad_bucket"]);
    const badProps = await httpRequest(`${a.url}/buckets/users/props`, {
      method: "PUT",
      headers: JSON_TYPE,
      body: JSON.stringify({ pr: 3, r: 1 }),
    });
    expect([badProps.status, JSON.parse(badProps.text).error]).toEqual([400, "bad_props"]);
    const siblings = await httpRequest(`${a.url}/buckets/users/props`, {
      method: "PUT",
      headers: JSON_TYPE,
      body: JSON.stringify({ conflictResolution: "siblings" }),
    });
    expect(siblings.status).toBe(422);
  }, 30_000);
});
