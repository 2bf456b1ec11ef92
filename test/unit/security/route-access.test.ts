import { describe, expect, it } from "vitest";
import {
  couldBeCrossSite,
  isSafeMethod,
  nodeCertificateMay,
  roleIncludes,
  routeAccess,
} from "../../../src/security/route-access.js";

const need = (method: string, url: string) => {
  const access = routeAccess(method, url);
  return access.kind === "role" ? access.role : access.kind;
};

describe("which credential each route needs", () => {
  it("leaves the probes, the OpenAPI document and the console's files open", () => {
    for (const url of ["/health", "/ready", "/openapi.json", "/ui", "/ui/app.js", "/health?x=1"])
      expect(need("GET", url), url).toBe("open");
    expect(need("HEAD", "/ready")).toBe("open");
    // Open only to read.
    expect(need("POST", "/health")).toBe("admin");
  });

  it("leaves the node-to-node routes to the node certificate check", () => {
    expect(need("POST", "/internal/v1/replica")).toBe("peer");
    expect(need("POST", "/internal/v1/peer")).toBe("peer");
  });

  it("needs reader to read keys, writer to write them", () => {
    expect(need("GET", "/kv/a")).toBe("reader");
    expect(need("HEAD", "/kv/a?r=all")).toBe("reader");
    expect(need("GET", "/buckets/b/keys/a")).toBe("reader");
    expect(need("PUT", "/kv/a?w=quorum")).toBe("writer");
    expect(need("DELETE", "/kv/a")).toBe("writer");
    expect(need("PUT", "/buckets/b/keys/a")).toBe("writer");
    expect(need("POST", "/kv/a")).toBe("admin");
  });

  it("needs reader for the cluster's state, listing and metrics", () => {
    for (const url of ["/cluster/status", "/cluster/ring", "/buckets", "/buckets/b/props"])
      expect(need("GET", url), url).toBe("reader");
    expect(need("GET", "/metrics")).toBe("reader");
  });

  it("opens GET /metrics, and only that, with --metrics-open", () => {
    const open = { metricsOpen: true };
    expect(routeAccess("GET", "/metrics", open)).toEqual({ kind: "open" });
    expect(routeAccess("HEAD", "/metrics?x=1", open)).toEqual({ kind: "open" });
    expect(routeAccess("POST", "/metrics", open)).toEqual({ kind: "role", role: "admin" });
    expect(routeAccess("GET", "/cluster/status", open)).toEqual({ kind: "role", role: "reader" });
    expect(routeAccess("GET", "/metrics")).toEqual({ kind: "role", role: "reader" });
  });

  it("needs admin for the operator's routes, bucket properties, tokens and anything unknown", () => {
    for (const [method, url] of [
      ["POST", "/admin/repair"],
      ["GET", "/admin/repair/abc"],
      ["POST", "/admin/decommission"],
      ["POST", "/admin/removenode/n2"],
      ["POST", "/admin/stop"],
      ["PUT", "/buckets/b/props"],
      ["POST", "/admin/tokens"],
      ["GET", "/admin/tokens"],
      ["DELETE", "/admin/tokens/0123456789abcdef"],
      ["GET", "/somewhere/else"],
    ] as const)
      expect(need(method, url), `${method} ${url}`).toBe("admin");
  });

  it("nests the roles: admin ⊇ writer ⊇ reader", () => {
    expect(roleIncludes("admin", "writer")).toBe(true);
    expect(roleIncludes("writer", "reader")).toBe(true);
    expect(roleIncludes("writer", "writer")).toBe(true);
    expect(roleIncludes("reader", "writer")).toBe(false);
    expect(roleIncludes("writer", "admin")).toBe(false);
  });

  it("lets a node certificate read /cluster/* and create a token, nothing else", () => {
    expect(nodeCertificateMay("GET", "/cluster/status")).toBe(true);
    expect(nodeCertificateMay("POST", "/admin/tokens")).toBe(true);
    expect(nodeCertificateMay("GET", "/kv/a")).toBe(false);
    expect(nodeCertificateMay("PUT", "/kv/a")).toBe(false);
    expect(nodeCertificateMay("GET", "/admin/tokens")).toBe(false);
    expect(nodeCertificateMay("DELETE", "/admin/tokens/x")).toBe(false);
    expect(nodeCertificateMay("POST", "/admin/repair")).toBe(false);
  });
});

describe("the cross-site rule", () => {
  it("sees what a form could send, and what it could not", () => {
    expect(couldBeCrossSite({})).toBe(true);
    expect(couldBeCrossSite({ "content-type": "text/plain;charset=UTF-8" })).toBe(true);
    expect(couldBeCrossSite({ "content-type": "application/x-www-form-urlencoded" })).toBe(true);
    expect(couldBeCrossSite({ "content-type": "multipart/form-data; boundary=x" })).toBe(true);
    expect(couldBeCrossSite({ "content-type": "application/json" })).toBe(false);
    expect(couldBeCrossSite({ "x-grapevine-request": "1" })).toBe(false);
  });

  it("counts only GET, HEAD and OPTIONS as safe", () => {
    expect(isSafeMethod("GET")).toBe(true);
    expect(isSafeMethod("options")).toBe(true);
    expect(isSafeMethod("POST")).toBe(false);
    expect(isSafeMethod("DELETE")).toBe(false);
  });
});
