import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IDENTITY_FILE, IdentityError, openIdentity } from "../../../src/node/identity.js";
import { TOKEN_SPACE } from "../../../src/ring/partitioner.js";
import { arcOf, tokensInFullestStretch } from "../../../src/ring/tokens.js";

let dataDir: string;

beforeEach(async () => {
  dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), "grapevine-identity-")), "node1");
});

afterEach(async () => {
  await rm(path.dirname(dataDir), { recursive: true, force: true });
});

describe("openIdentity", () => {
  it("creates the id and vnodes distinct tokens on first start, and persists them", async () => {
    const identity = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 16,
      nowMs: 1_000,
    });
    expect(identity.created).toBe(true);
    expect(identity.id).toBe("node1");
    expect(identity.tokens).toHaveLength(16);
    expect(new Set(identity.tokens).size).toBe(16);
    expect(identity.generation).toBe(1_000);
    const stored = JSON.parse(await readFile(path.join(dataDir, IDENTITY_FILE), "utf8")) as {
      id: string;
      tokens: string[];
    };
    expect(stored.id).toBe("node1");
    expect(stored.tokens).toHaveLength(16);
  });

  it("spreads a new node's tokens evenly, one per arc, so a node that forms a cluster alone is not bunched", async () => {
    const identity = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 16,
      nowMs: 1_000,
    });
    expect(
      tokensInFullestStretch(identity.tokens, TOKEN_SPACE / BigInt(4 * 16)),
    ).toBeLessThanOrEqual(2);
    const arcs = identity.tokens.map((token) => arcOf(token, 16));
    expect(new Set(arcs).size).toBe(16);
  });

  it("keeps the id and tokens across a restart and takes a larger generation", async () => {
    const first = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 16,
      nowMs: 5_000,
    });
    const second = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 16,
      nowMs: 9_000,
    });
    expect(second.created).toBe(false);
    expect(second.id).toBe(first.id);
    expect(second.tokens).toEqual(first.tokens);
    expect(second.generation).toBe(9_000);
  });

  it("never repeats a generation, even when the wall clock went backwards", async () => {
    const first = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 4,
      nowMs: 5_000,
    });
    const second = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 4,
      nowMs: 1_000,
    });
    const third = await openIdentity({
      dataDir,
      id: "node1",
      idExplicit: true,
      vnodes: 4,
      nowMs: 1_000,
    });
    expect(second.generation).toBe(first.generation + 1);
    expect(third.generation).toBe(second.generation + 1);
  });

  it("refuses a data dir that belongs to another node id", async () => {
    await openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 });
    const attempt = openIdentity({ dataDir, id: "node2", idExplicit: true, vnodes: 16 });
    await expect(attempt).rejects.toBeInstanceOf(IdentityError);
    await expect(attempt).rejects.toThrow(/belongs to node "node1", not "node2"/);
  });

  it("lets a stored id win over a derived one", async () => {
    await openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 });
    const restarted = await openIdentity({
      dataDir,
      id: "node-127-0-0-1-7001",
      idExplicit: false,
      vnodes: 16,
    });
    expect(restarted.id).toBe("node1");
  });

  it("refuses a different --vnodes than the data dir was created with", async () => {
    await openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 });
    const attempt = openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 32 });
    await expect(attempt).rejects.toBeInstanceOf(IdentityError);
    await expect(attempt).rejects.toThrow(/16 tokens but --vnodes is 32/);
  });

  it("refuses an identity file that is not one, instead of starting as a new node", async () => {
    await openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 });
    await writeFile(path.join(dataDir, IDENTITY_FILE), "{ not json");
    await expect(
      openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 }),
    ).rejects.toBeInstanceOf(IdentityError);
    await writeFile(
      path.join(dataDir, IDENTITY_FILE),
      JSON.stringify({ format: 1, id: "node1", tokens: ["xyz"], generation: 1 }),
    );
    await expect(
      openIdentity({ dataDir, id: "node1", idExplicit: true, vnodes: 16 }),
    ).rejects.toBeInstanceOf(IdentityError);
  });
});
