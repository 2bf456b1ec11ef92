import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { KNOWN_PEERS_FILE, KnownPeersWriter, readKnownPeers, writeKnownPeers } from "../../../src/topology/known-peers.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "grapevine-known-peers-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("known peers file", () => {
  it("is empty before the first write and round-trips the ids after it", async () => {
    const dir = await tempDir();
    expect(await readKnownPeers(dir)).toEqual([]);
    await writeKnownPeers(dir, ["node3", "node2"]);
    expect(await readKnownPeers(dir)).toEqual(["node2", "node3"]);
  });

  it("is unreadable, not empty, when damaged or foreign", async () => {
    const dir = await tempDir();
    const file = path.join(dir, KNOWN_PEERS_FILE);
    for (const body of ["{not json", "null", '{"format":2,"peers":[]}', '{"format":1,"peers":[1]}', '{"format":1,"peers":[""]}']) {
      await writeFile(file, body);
      expect(await readKnownPeers(dir), body).toBe("unreadable");
    }
  });
});

describe("KnownPeersWriter", () => {
  it("writes only views that differ from the file, the newest one last, one write at a time", async () => {
    const writes: string[][] = [];
    let inFlight = 0;
    let release: () => void = () => undefined;
    const writer = new KnownPeersWriter({
      initial: ["a", "b"],
      write: async (peers) => {
        inFlight += 1;
        expect(inFlight).toBe(1);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        writes.push([...peers]);
        inFlight -= 1;
      },
      onError: (error) => {
        throw error;
      },
    });
    writer.update(["b", "a"]);
    await writer.flushed();
    expect(writes).toEqual([]);
    writer.update(["a", "b", "c"]);
    writer.update(["a"]);
    writer.update(["a", "d"]);
    await Promise.resolve();
    release();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await writer.flushed();
    expect(writes).toEqual([["a", "b", "c"], ["a", "d"]]);
  });

  it("reports a failed write and writes the next view", async () => {
    const errors: unknown[] = [];
    const writes: string[][] = [];
    let fail = true;
    const writer = new KnownPeersWriter({
      initial: "unreadable",
      write: async (peers) => {
        if (fail) throw new Error("disk full");
        writes.push([...peers]);
      },
      onError: (error) => errors.push(error),
    });
    writer.update([]);
    await writer.flushed();
    expect(errors).toHaveLength(1);
    fail = false;
    writer.update([]);
    await writer.flushed();
    expect(writes).toEqual([[]]);
  });
});
