import { describe, expect, it } from "vitest";
import { CERT_EXPIRY_WARNING_DAYS, expiryOf } from "../../../src/security/expiry.js";
import { roleOf } from "../../../src/security/inspect.js";
import {
  CertInputError,
  checkName,
  parseHosts,
  parseLifetime,
  parseRole,
} from "../../../src/security/cert-inputs.js";

const DAY_MS = 24 * 60 * 60 * 1000;

describe("roleOf", () => {
  it("reads the one OU of a subject as node:tls gives it, when it is a role", () => {
    expect(roleOf({ subject: { O: "Grapevine", OU: "admin", CN: "alice" } })).toBe("admin");
    expect(roleOf({ subject: { OU: ["reader"] } })).toBe("reader");
  });

  it("gives no role for no OU, several, or one that is not a role", () => {
    expect(roleOf({ subject: { CN: "node1" } })).toBeUndefined();
    expect(roleOf({ subject: { OU: ["reader", "admin"] } })).toBeUndefined();
    expect(roleOf({ subject: { OU: "root" } })).toBeUndefined();
  });
});

describe("expiryOf", () => {
  const now = new Date("2026-12-05T00:00:00Z");
  const after = (ms: number): Date => new Date(now.getTime() + ms);

  it("flags a certificate with fewer than the warning's days left", () => {
    expect(CERT_EXPIRY_WARNING_DAYS).toBe(30);
    expect(expiryOf(after(400 * DAY_MS), now)).toEqual({
      daysLeft: 400,
      expired: false,
      nearExpiry: false,
    });
    expect(expiryOf(after(30 * DAY_MS), now).nearExpiry).toBe(false);
    expect(expiryOf(after(30 * DAY_MS - 1), now)).toEqual({
      daysLeft: 29,
      expired: false,
      nearExpiry: true,
    });
  });

  it("calls a certificate past its end expired, not near expiry", () => {
    expect(expiryOf(now, now)).toEqual({ daysLeft: 0, expired: true, nearExpiry: false });
    expect(expiryOf(after(-DAY_MS - 1), now).daysLeft).toBe(-2);
  });
});

describe("certificate inputs", () => {
  it("tells IP addresses from DNS names, once each, in order", () => {
    expect(parseHosts("--host", "Node1.example, 10.0.0.7,::1,localhost,10.0.0.7")).toEqual([
      { type: "dns", value: "node1.example" },
      { type: "ip", value: "10.0.0.7" },
      { type: "ip", value: "::1" },
      { type: "dns", value: "localhost" },
    ]);
  });

  it("refuses hosts that are neither, with ports, or none", () => {
    for (const bad of ["", " , ", "a b", "host:7001", "[::1]", "10.0.0.256", "-x.example", "a..b"])
      expect(() => parseHosts("--host", bad)).toThrow(CertInputError);
    expect(() => parseHosts("--host", "x".repeat(64))).toThrow(/--host/);
  });

  it("checks names, roles and lifetimes, naming the flag", () => {
    expect(checkName("--id", " node-1.a_b ")).toBe("node-1.a_b");
    for (const bad of ["", "-x", "a/b", "a b", "x".repeat(129)])
      expect(() => checkName("--id", bad)).toThrow(/^--id must be/);
    expect(parseRole("--role", "writer")).toBe("writer");
    expect(() => parseRole("--role", "root")).toThrow(/reader, writer, admin/);
    expect(parseLifetime("--lifetime", "365d")).toBe(365 * DAY_MS);
    expect(parseLifetime("--lifetime", "2h")).toBe(2 * 60 * 60 * 1000);
    for (const bad of ["0h", "5", "1y", "-1d", "36501d"])
      expect(() => parseLifetime("--lifetime", bad)).toThrow(/^--lifetime must be/);
  });
});
