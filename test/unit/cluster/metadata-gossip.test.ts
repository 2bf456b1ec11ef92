// The metadata exchange (cluster/metadata-gossip.ts) on an in-memory network of nodes: a change
// reaches every one of 1,000 nodes in a few rounds, a node that was away catches up by pulling,
// concurrent changes end the same everywhere, and agreeing nodes send one syn each per round.

import { describe, expect, it } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import type { Outbound } from "../../../src/cluster/engine.js";
import { ClusterMetadata, type MetadataEntry } from "../../../src/cluster/metadata.js";
import { MetadataGossip, type MetadataPeer } from "../../../src/cluster/metadata-gossip.js";
import {
  isMetadataMessage,
  validateMetadataMessage,
} from "../../../src/cluster/metadata-messages.js";

interface Net {
  readonly nodes: MetadataGossip[];
  readonly peers: MetadataPeer[];
  readonly up: Set<string>;
  sent: number;
}

function net(size: number, seed = 1): Net {
  const peers = Array.from({ length: size }, (_, i) => ({ id: `n${i}`, address: `h:${i}` }));
  const nodes = peers.map(
    (peer, i) =>
      new MetadataGossip(
        { self: peer.id, address: peer.address, metadata: new ClusterMetadata() },
        createRandom(seed * 7919 + i),
      ),
  );
  return { nodes, peers, up: new Set(peers.map((p) => p.id)), sent: 0 };
}

/** Delivers until quiet, dropping messages to nodes that are down; validates every message. */
function deliver(n: Net, outbound: Outbound[]): void {
  const queue = [...outbound];
  while (queue.length > 0) {
    const next = queue.shift() as Outbound;
    n.sent += 1;
    if (next.to === null || !n.up.has(next.to)) continue;
    const message = validateMetadataMessage(structuredClone(next.message));
    if (!isMetadataMessage(message)) throw new Error("not metadata");
    const target = n.nodes[Number(next.to.slice(1))] as MetadataGossip;
    queue.push(...target.receive(message, livePeersOf(n, next.to)));
  }
}

function livePeersOf(n: Net, self: string): () => MetadataPeer[] {
  return () => n.peers.filter((peer) => peer.id !== self && n.up.has(peer.id));
}

function round(n: Net, isRound = true): void {
  n.nodes.forEach((node, i) => {
    const id = `n${i}`;
    if (n.up.has(id)) deliver(n, node.tick(isRound, livePeersOf(n, id)));
  });
}

function agreeing(n: Net): boolean {
  const first = n.nodes[0]?.metadata.digest();
  return n.nodes.every((node) => node.metadata.digest() === first);
}

const entry = (name: string, stampUs: number, origin: string, value = "{}"): MetadataEntry => ({
  key: `bucket/${name}`,
  value,
  version: { stampUs, origin },
});

describe("metadata gossip", () => {
  it("spreads a change to 1,000 nodes within a few rounds", () => {
    const n = net(1000);
    n.nodes[17]?.metadata.setLocal(entry("users", 100, "n17", '{"r":1}'));
    let rounds = 0;
    while (!agreeing(n) && rounds < 50) {
      round(n);
      rounds += 1;
    }
    expect(agreeing(n)).toBe(true);
    expect(rounds).toBeLessThanOrEqual(6);
    // Agreeing nodes exchange one syn per node per round, nothing more.
    n.sent = 0;
    round(n);
    expect(n.sent).toBe(1000);
  });

  it("converges by pulls alone (rumors lost) and a returning node catches up", () => {
    const n = net(50, 2);
    n.up.delete("n3");
    // Changes made with rumors lost: only the rounds' pulls spread them.
    n.nodes[0]?.metadata.merge(entry("a", 10, "n0"));
    n.nodes[1]?.metadata.merge(entry("a", 10, "n1", '{"w":1}'));
    n.nodes[2]?.metadata.merge(entry("b", 5, "n2"));
    for (let i = 0; i < 30; i++) round(n);
    const live = n.nodes.filter((_, i) => i !== 3);
    expect(new Set(live.map((node) => node.metadata.digest())).size).toBe(1);
    // Same stamp: the larger origin wins everywhere.
    expect(n.nodes[0]?.metadata.get("bucket/a")?.version.origin).toBe("n1");
    n.up.add("n3");
    for (let i = 0; i < 10; i++) round(n);
    expect(agreeing(n)).toBe(true);
  });

  it("walks a map larger than one message in pages", () => {
    const n = net(2, 3);
    const big = "x".repeat(10_000);
    for (let i = 0; i < 300; i++) n.nodes[0]?.metadata.merge(entry(`b${i}`, 1 + i, "n0", big));
    // The peer has the newest entry already, so "newer than" yields nothing: pages must do it.
    n.nodes[1]?.metadata.merge(entry("b299", 300, "n0", big));
    for (let i = 0; i < 40 && !agreeing(n); i++) round(n);
    expect(agreeing(n)).toBe(true);
    expect(n.nodes[1]?.metadata.size).toBe(300);
  });
});
