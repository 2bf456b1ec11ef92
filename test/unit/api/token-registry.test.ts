import { describe, expect, it } from "vitest";
import { ClusterMetadata } from "../../../src/cluster/metadata.js";
import { TokenRegistry } from "../../../src/api/token-registry.js";
import { judgeToken } from "../../../src/security/token-book.js";

const DAY_MS = 86_400_000;

function registryOn(metadata: ClusterMetadata, self: string, nowMs: () => number) {
  let stamp = 1_000_000;
  let seed = self === "n1" ? 1 : 101;
  return new TokenRegistry({
    metadata,
    self,
    stamp: () => (stamp += 10),
    nowMs,
    randomBytes: (count) => Buffer.from(Array.from({ length: count }, () => seed++ % 256)),
  });
}

describe("TokenRegistry over the cluster metadata", () => {
  const now = 1_800_000_000_000;

  it("stores only the hash, and the token it answered is admitted with its role", () => {
    const metadata = new ClusterMetadata();
    const registry = registryOn(metadata, "n1", () => now);
    const { token, record } = registry.create("reader", 3);
    expect(record.expiresAtMs - record.createdAtMs).toBe(3 * DAY_MS);
    const secret = token.split("_")[2] as string;
    for (const entry of metadata.list()) expect(entry.value).not.toContain(secret);
    expect(judgeToken(token, (id) => registry.lookup(id), now)).toMatchObject({
      admitted: true,
      role: "reader",
    });
    expect(registry.list().map((r) => r.id)).toEqual([record.id]);
  });

  it("a revocation made on one node wins on another once their metadata merge", () => {
    const here = new ClusterMetadata();
    const there = new ClusterMetadata();
    const onHere = registryOn(here, "n1", () => now);
    const onThere = registryOn(there, "n2", () => now);
    const { token, record } = onHere.create("admin");
    for (const entry of here.takeAnnouncements()) there.merge(entry);
    expect(judgeToken(token, (id) => onThere.lookup(id), now).admitted).toBe(true);
    onThere.revoke(record.id);
    for (const entry of there.takeAnnouncements()) here.merge(entry);
    expect(judgeToken(token, (id) => onHere.lookup(id), now)).toMatchObject({
      admitted: false,
      reason: "revoked",
    });
    expect(here.digest()).toBe(there.digest());
  });

  it("refuses to revoke an unknown token with not_found", () => {
    const registry = registryOn(new ClusterMetadata(), "n1", () => now);
    expect(() => registry.revoke("0123456789abcdef")).toThrow(/no token/);
  });
});
