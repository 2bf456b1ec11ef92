// One audit line per operator action (issue 18 §5): who, what and the result, for the admin routes
// and bucket properties; none for reads or for data writes.

import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { isAudited, registerAuditLog } from "../../../src/api/audit-log.js";
import { createHttpServer } from "../../../src/api/http-server.js";
import { TEST_HTTP_LIMITS } from "../../support/http-limits.js";

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
    callback();
  },
});
const app = createHttpServer(TEST_HTTP_LIMITS);
registerAuditLog(app, pino({ level: "info" }, sink));
app.post("/admin/stop", async (_request, reply) => reply.code(202).send({ status: "stopping" }));
app.put("/buckets/:bucket/props", async () => ({}));
app.put("/kv/:key", async (_request, reply) => reply.code(204).send());
app.get("/admin/repair/:id", async () => ({}));
afterAll(() => app.close());

describe("the audit log", () => {
  it("logs an operator action with who, what and the result", async () => {
    await app.inject({ method: "POST", url: "/admin/stop", remoteAddress: "10.1.2.3" });
    expect(lines.at(-1)).toMatchObject({
      audit: true,
      who: { address: "10.1.2.3" },
      action: "POST /admin/stop",
      status: 202,
      msg: "operator action",
    });
  });

  it("names the bearer token's id, never its secret", async () => {
    const id = "0123456789abcdef";
    const secret = "f".repeat(64);
    await app.inject({
      method: "POST",
      url: "/admin/stop",
      headers: { authorization: `Bearer gv_${id}_${secret}` },
    });
    expect(lines.at(-1)).toMatchObject({ who: { token: id }, action: "POST /admin/stop" });
    expect(JSON.stringify(lines.at(-1))).not.toContain(secret);
  });

  it("logs a change of bucket properties, a refused one too", async () => {
    await app.inject({ method: "PUT", url: "/buckets/users/props", payload: {} });
    expect(lines.at(-1)).toMatchObject({ action: "PUT /buckets/users/props", status: 200 });
  });

  it("logs nothing for reads and data writes", async () => {
    const before = lines.length;
    await app.inject({ method: "GET", url: "/admin/repair/abc" });
    await app.inject({ method: "PUT", url: "/kv/k", payload: "v" });
    expect(lines.length).toBe(before);
  });

  it("audits exactly the changing admin and props routes", () => {
    expect(isAudited("POST", "/admin/repair")).toBe(true);
    expect(isAudited("POST", "/admin/removenode/:id")).toBe(true);
    expect(isAudited("PUT", "/buckets/:bucket/props")).toBe(true);
    expect(isAudited("GET", "/admin/repair/:id")).toBe(false);
    expect(isAudited("PUT", "/buckets/:bucket/keys/:key")).toBe(false);
    expect(isAudited("DELETE", "/kv/:key")).toBe(false);
  });
});
