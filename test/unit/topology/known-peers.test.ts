import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  KNOWN_PEERS_FILE,
  knownPeersOf,
  KnownPeersWriter,
  NO_KNOWN_PEERS,
  readKnownPeers,
  savedMembershipOf,
  TOMBSTONE_HORIZON_MS,
  tombstoneStamps,
  writeKnownPeers,
  type KnownPeersState,
} from "../../../src/topology/known-peers.js";
import type { SavedMember } from "../../../src/cluster/saved-members.js";

/** A format 1 view: ids only. */
function ids(peers: readonly string[]): KnownPeersState {
  return { peers, members: [], tombstones: [] };
}

function member(id: string, generation = 1): SavedMember {
  return {
    id,
    address: `${id}:7000`,
    generation,
    status: "normal",
    tokens: [1n, 0xffff_ffff_ffff_fff0n],
  };
}

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
    expect(await readKnownPeers(dir)).toEqual(NO_KNOWN_PEERS);
    await writeKnownPeers(dir, ids(["node3", "node2"]));
    expect(await readKnownPeers(dir)).toEqual(ids(["node2", "node3"]));
  });

  it("round-trips saved members (address, generation, status, tokens) and tombstones", async () => {
    const dir = await tempDir();
    const state: KnownPeersState = {
      peers: ["n2", "n3"],
      members: [member("n3", 7), member("n2", 5)],
      tombstones: [{ id: "n9", generation: 4, savedAtMs: 1_700_000_000_000 }],
    };
    await writeKnownPeers(dir, state);
    expect(await readKnownPeers(dir)).toEqual({
      ...state,
      members: [member("n2", 5), member("n3", 7)],
    });
  });

  it("still loads a format 1 file (ids only), as peers without saved members", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, KNOWN_PEERS_FILE), '{"format":1,"peers":["b","a"]}');
    expect(await readKnownPeers(dir)).toEqual({ peers: ["b", "a"], members: [], tombstones: [] });
  });

  it("is unreadable, not empty, when damaged or foreign", async () => {
    const dir = await tempDir();
    const file = path.join(dir, KNOWN_PEERS_FILE);
    const members = (item: object): string =>
      JSON.stringify({ format: 2, peers: [], members: [item] });
    for (const body of [
      "{not json",
      "null",
      '{"format":3,"peers":[]}',
      '{"format":2,"peers":[]}',
      '{"format":1,"peers":[1]}',
      '{"format":1,"peers":[""]}',
      members({ id: "a", address: "a:1", generation: 1, status: "left", tokens: [] }),
      members({ id: "a", address: "a:1", generation: -1, status: "normal", tokens: [] }),
      members({ id: "a", address: "a:1", generation: 1, status: "normal", tokens: ["xyz"] }),
      JSON.stringify({
        format: 2,
        peers: [],
        members: [],
        tombstones: [{ id: "a", generation: 1 }],
      }),
    ]) {
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
      initial: ids(["a", "b"]),
      write: async (peers) => {
        inFlight += 1;
        expect(inFlight).toBe(1);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        writes.push([...peers.peers]);
        inFlight -= 1;
      },
      onError: (error) => {
        throw error;
      },
    });
    writer.update(ids(["b", "a"]));
    await writer.flushed();
    expect(writes).toEqual([]);
    writer.update(ids(["a", "b", "c"]));
    writer.update(ids(["a"]));
    writer.update(ids(["a", "d"]));
    await Promise.resolve();
    release();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await writer.flushed();
    expect(writes).toEqual([
      ["a", "b", "c"],
      ["a", "d"],
    ]);
  });

  it("reports a failed write and writes the next view", async () => {
    const errors: unknown[] = [];
    const writes: string[][] = [];
    let fail = true;
    const writer = new KnownPeersWriter({
      initial: "unreadable",
      write: async (peers) => {
        if (fail) throw new Error("disk full");
        writes.push([...peers.peers]);
      },
      onError: (error) => errors.push(error),
    });
    writer.update(ids([]));
    await writer.flushed();
    expect(errors).toHaveLength(1);
    fail = false;
    writer.update(ids([]));
    await writer.flushed();
    expect(writes).toEqual([[]]);
  });
});

describe("saved tombstones", () => {
  const NOW = 1_800_000_000_000;

  it("keep the time this node first saved them across writes, and expire past the horizon", () => {
    const saved = { members: [member("n2")], tombstones: [{ id: "n9", generation: 3 }] };
    const stamps = new Map<string, number>();
    const first = knownPeersOf(saved, stamps, NOW);
    expect(first.state.tombstones).toEqual([{ id: "n9", generation: 3, savedAtMs: NOW }]);
    expect(first.state.peers).toEqual(["n2"]);
    const later = knownPeersOf(saved, stamps, NOW + TOMBSTONE_HORIZON_MS);
    expect(later.state.tombstones).toEqual([{ id: "n9", generation: 3, savedAtMs: NOW }]);
    expect(later.expired).toEqual([]);
    const past = knownPeersOf(saved, stamps, NOW + TOMBSTONE_HORIZON_MS + 1);
    expect(past.state.tombstones).toEqual([]);
    expect(past.expired).toEqual([{ id: "n9", generation: 3 }]);
  });

  it("past the horizon are not given to a starting view; the file's stamps survive a restart", () => {
    const known: KnownPeersState = {
      peers: ["n2"],
      members: [member("n2")],
      tombstones: [
        { id: "old", generation: 1, savedAtMs: NOW - TOMBSTONE_HORIZON_MS - 1 },
        { id: "new", generation: 2, savedAtMs: NOW - 1 },
      ],
    };
    expect(savedMembershipOf(known, NOW)).toEqual({
      members: [member("n2")],
      tombstones: [{ id: "new", generation: 2 }],
    });
    expect(savedMembershipOf("unreadable", NOW)).toEqual({ members: [], tombstones: [] });
    expect(tombstoneStamps(known).get("new@2")).toBe(NOW - 1);
  });
});
