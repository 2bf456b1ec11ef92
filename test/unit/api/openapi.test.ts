// The OpenAPI document (issue 20 §3): a real node (buildNode, never listening) serves
// /openapi.json; the document is valid OpenAPI, describes exactly the routes the node registers
// (the node-to-node ones hidden), and the node's answers match the schemas it documents. The
// schemas also validate requests: bad input keeps the code and status it had before them.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileErrors, validate } from "@readme/openapi-parser";
import { Value } from "@sinclair/typebox/value";
import type { Static, TSchema } from "@sinclair/typebox";
import type { LightMyRequestResponse, RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type { ClusterStatusBody, RingBody } from "../../../src/api/cluster-routes.js";
import {
  ClusterStatusSchema,
  RingChangeSchema,
  RingSchema,
} from "../../../src/api/cluster-schemas.js";
import type { RingChangeBody } from "../../../src/api/topology-routes.js";
import type { BuiltNode } from "../../../src/node/build-node.js";
import { buildSoloNode } from "../../support/solo-node.js";

let root: string;
let node: BuiltNode;
const registered: RouteOptions[] = [];

interface Operation {
  readonly responses: Record<string, unknown>;
  readonly requestBody?: { required: boolean; content: Record<string, unknown> };
}

interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "grapevine-openapi-"));
  node = await buildSoloNode(root, {}, { onRoute: (route) => registered.push(route) });
  node.begin();
});

afterAll(async () => {
  await node?.stop();
  await rm(root, { recursive: true, force: true });
});

async function fetchDocument(): Promise<Document> {
  const answer = await node.app.inject({ method: "GET", url: "/openapi.json" });
  expect(answer.statusCode).toBe(200);
  return answer.json<Document>();
}

/** fastify's `/admin/repair/:id` and `/kv/*` as OpenAPI writes them. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\*$/, "{*}");
}

function methodsOf(route: RouteOptions): string[] {
  return (Array.isArray(route.method) ? route.method : [route.method]).map((method) =>
    method.toLowerCase(),
  );
}

function isHidden(route: RouteOptions): boolean {
  return route.schema?.hide === true;
}

describe("/openapi.json", () => {
  it("is a valid OpenAPI document", async () => {
    const document = await fetchDocument();
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
  });

  it("describes how a secure node authenticates: a bearer token, or none on an open node", async () => {
    const document = (await fetchDocument()) as {
      components?: { securitySchemes?: Record<string, { type?: string; scheme?: string }> };
      security?: unknown[];
    };
    expect(document.components?.securitySchemes?.["bearerToken"]).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
    expect(document.security).toEqual([{ bearerToken: [] }, {}]);
  });

  it("describes every route the node registers, and no other, the node-to-node ones hidden", async () => {
    const document = await fetchDocument();
    const described = new Set<string>();
    for (const [url, methods] of Object.entries(document.paths))
      for (const method of Object.keys(methods)) described.add(`${method} ${url}`);

    const served = new Set<string>();
    const hidden: string[] = [];
    for (const route of registered) {
      for (const method of methodsOf(route)) {
        const operation = `${method} ${openApiPath(route.url)}`;
        // fastify adds a HEAD beside every GET (exposeHeadRoutes); the GET is what is described.
        if (isHidden(route)) hidden.push(route.url);
        else if (method === "head") expect(described).toContain(`get ${openApiPath(route.url)}`);
        else served.add(operation);
      }
    }
    expect([...described].sort()).toEqual([...served].sort());
    expect(served.size).toBeGreaterThanOrEqual(15);
    // Hidden: exactly the msgpack routes peers call with the cluster secret, and the web console's
    // files (api/console-routes.ts), which are no API.
    expect(hidden.length).toBeGreaterThan(0);
    for (const url of hidden) expect(url).toMatch(/^\/(internal\/|ui(\/|$))/);
  });

  it("gives every operation a success, its refusals and the default error body", async () => {
    const document = await fetchDocument();
    for (const [url, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const statuses = Object.keys(operation.responses);
        expect(statuses, `${method} ${url}`).toContain("default");
        expect(
          statuses.some((status) => status.startsWith("2")),
          `${method} ${url}`,
        ).toBe(true);
      }
    }
  });
});

/** A registered route's URL as a pattern: `:id` one segment, a trailing `*` the rest. */
function urlPattern(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+|\*$)/)
    .map((part) =>
      part.startsWith(":")
        ? "[^/]+"
        : part === "*"
          ? ".*"
          : part.replace(/[.?+^$()[\]{}|\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`);
}

/** The route that answered, found among those registered. */
function routeFor(method: string, url: string): RouteOptions {
  const pathOnly = url.split("?")[0] ?? "";
  const route = registered.find(
    (candidate) =>
      methodsOf(candidate).includes(method.toLowerCase()) &&
      urlPattern(candidate.url).test(pathOnly),
  );
  if (route === undefined) throw new Error(`no route for ${method} ${url}`);
  return route;
}

/** The answer's status is documented on its route (or is the default), and a JSON body fits it. */
function expectDocumented(method: string, url: string, answer: LightMyRequestResponse): void {
  const responses = (routeFor(method, url).schema as { response: Record<string, unknown> })
    .response;
  const schema = (responses[String(answer.statusCode)] ?? responses["default"]) as TSchema;
  expect(schema, `${method} ${url} ${answer.statusCode}`).toBeDefined();
  if (!String(answer.headers["content-type"]).startsWith("application/json")) return;
  const body: unknown = answer.json();
  const errors = [...Value.Errors(schema, body)].map((error) => `${error.path} ${error.message}`);
  expect(errors, `${method} ${url} ${answer.statusCode}: ${answer.body}`).toEqual([]);
}

async function send(
  method: "GET" | "PUT" | "POST" | "DELETE",
  url: string,
  payload?: string | object,
  contentType?: string,
): Promise<LightMyRequestResponse> {
  const answer = await node.app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload }),
    ...(contentType === undefined ? {} : { headers: { "content-type": contentType } }),
  });
  expectDocumented(method, url, answer);
  return answer;
}

describe("the document's request bodies", () => {
  it("are as the routes take them: a value of any type, optional admin options", async () => {
    const { paths } = await fetchDocument();
    const value = paths["/kv/{*}"]?.put?.requestBody;
    expect(value?.required).toBe(false);
    expect(Object.keys(value?.content ?? {})).toEqual(["*/*"]);
    for (const url of ["/admin/repair", "/admin/future-records"]) {
      const body = paths[url]?.post?.requestBody;
      expect(body?.required, url).toBe(false);
      expect(Object.keys(body?.content ?? {}), url).toEqual(["application/json"]);
    }
  });
});

describe("the node's answers", () => {
  it("match the schemas documented for their status", async () => {
    for (const url of ["/health", "/ready", "/cluster/status", "/cluster/ring", "/metrics"])
      expect((await send("GET", url)).statusCode, url).toBe(200);
    expect((await send("PUT", "/kv/a%2Fb", "v", "text/plain")).statusCode).toBe(204);
    expect((await send("GET", "/kv/a%2Fb?r=one")).statusCode).toBe(200);
    expect((await send("DELETE", "/kv/a%2Fb?w=all")).statusCode).toBe(204);
    expect((await send("GET", "/kv/a%2Fb")).statusCode).toBe(404);
    const started = await send("POST", "/admin/repair?dryRun=true");
    expect(started.statusCode).toBe(202);
    const { id } = started.json<{ id: string }>();
    expect((await send("GET", `/admin/repair/${id}`)).statusCode).toBe(200);
    expect((await send("GET", "/admin/repair/nope")).statusCode).toBe(404);
    expect((await send("POST", "/admin/future-records", { action: "list" })).statusCode).toBe(200);
    expect((await send("GET", "/admin/ring-change")).statusCode).toBe(200);
    expect((await send("GET", "/openapi.json")).statusCode).toBe(200);
    const replicas = await send("GET", "/cluster/replicas?key=a%2Fb%20%C3%A9");
    expect(replicas.statusCode).toBe(200);
    expect(replicas.json()).toMatchObject({
      bucket: "default",
      key: "a/b é",
      replicas: [expect.any(String)],
    });
    const inBucket = await send("GET", "/cluster/replicas?key=k&bucket=users");
    const inDefault = await send("GET", "/cluster/replicas?key=k");
    // A bucket's key hashes with its bucket: another token than the same key in `default`.
    expect(inBucket.json<{ token: string }>().token).not.toBe(
      inDefault.json<{ token: string }>().token,
    );
  });

  it("refuse bad input with the code and status they always had", async () => {
    const cases: [Parameters<typeof send>, number, string][] = [
      [["PUT", "/kv/k?w=1&w=2", "v"], 400, "bad_consistency"],
      [["GET", "/kv/k?r=most"], 400, "bad_consistency"],
      [["GET", "/kv/k?r=2"], 400, "bad_consistency"],
      [["GET", "/kv/"], 400, "bad_key"],
      [["POST", "/admin/repair?dryRun=maybe"], 400, "bad_request"],
      [["POST", "/admin/repair", { dryRun: "maybe" }], 400, "bad_request"],
      [["POST", "/admin/future-records", { action: "drop" }], 400, "bad_request"],
      [["POST", "/admin/future-records", { scanRecordsMax: "5" }], 400, "bad_request"],
      [["POST", "/admin/future-records", { scanRecordsMax: 100_001 }], 400, "bad_request"],
      [["POST", "/admin/future-records", { after: "XYZ" }], 400, "bad_request"],
      [["POST", "/admin/removenode/%20"], 400, "bad_request"],
      [["GET", "/cluster/replicas"], 400, "bad_request"],
      [["GET", `/cluster/replicas?key=${"k".repeat(1_025)}`], 400, "bad_request"],
      [["GET", "/cluster/replicas?key=k&bucket=no%21pe"], 400, "bad_bucket"],
      [["GET", "/cluster/replicas?key=k&bucket="], 400, "bad_bucket"],
    ];
    for (const [request, status, code] of cases) {
      const answer = await send(...request);
      const shown = JSON.stringify(request);
      expect(answer.statusCode, shown).toBe(status);
      expect(answer.json(), shown).toMatchObject({ error: code });
    }
  });

  it("take what they always took: any value type, bodies that carry no fields, null as absent", async () => {
    expect((await send("PUT", "/kv/star", "v", "*/*")).statusCode).toBe(204);
    expect((await send("POST", "/admin/repair", "dry", "text/plain")).statusCode).toBe(202);
    expect((await send("POST", "/admin/repair", [true])).statusCode).toBe(202);
    const page = await send("POST", "/admin/future-records", {
      action: null,
      after: null,
      scanRecordsMax: null,
    });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ action: "list" });
  });
});

/** The type with every readonly dropped, arrays included: what a body is, for comparison. */
type Writable<T> = T extends readonly (infer E)[]
  ? Writable<E>[]
  : T extends object
    ? { -readonly [K in keyof T]: Writable<T[K]> }
    : T;

describe("the answer schemas", () => {
  it("admit every body their routes can build, not only the ones a solo node shows", () => {
    // Streams, ring changes and clock peers are empty on a solo node; the types cover them.
    expectTypeOf<Writable<ClusterStatusBody>>().toExtend<Static<typeof ClusterStatusSchema>>();
    expectTypeOf<Writable<RingBody>>().toExtend<Static<typeof RingSchema>>();
    expectTypeOf<Writable<RingChangeBody>>().toExtend<Static<typeof RingChangeSchema>>();
  });
});
