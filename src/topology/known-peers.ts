// topology/known-peers.ts — the other members this node has seen in the ring, persisted in
// `<data-dir>/peers.json` (Cassandra's system.peers, ids only) so that a restart knows whom it must
// hear about before it coordinates client requests.
//
// Why: a node starts knowing only itself; the rest of the ring arrives by gossip. A node with seeds
// waits until a peer has spoken and the ring has held still (cluster/ring-settle.ts), but the first
// member of a cluster has no seeds, so after a restart it had no reason to wait, and it served from a
// ring of itself plus whoever had gossiped to it so far: quorum writes went to nodes that were not the
// key's replicas (test/faults/coordinator-restart, 24 stale reads in CI). With this file it waits
// until every peer it knew is back in its view.
//
// The file is written only by a node whose ring has settled, so a half-learned view never replaces a
// full one. It is a hint for startup, not state the data depends on: an unreadable file makes the node
// wait as if it had peers (the safe side) and is rewritten once the ring settles.
//
// Limits: a peer removed from the cluster while this node was down, and already forgotten by gossip,
// is never seen again, so such a restart waits the full settleMaxMs (15 s) and logs which peers it
// gave up on. And ids are not tokens: after a whole-cluster restart with one member still dead,
// nobody knows that member's tokens until it returns (Cassandra's system.peers keeps them too; ours
// does not yet).

import type { NodeId } from "../core/ids.js";
import { PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { dataDirStateFiles } from "../storage/atomic-file.js";
import type { StateFiles } from "../storage/state-files.js";

export const KNOWN_PEERS_FILE = "peers.json";
const KNOWN_PEERS_FORMAT = 1;

export const KNOWN_PEERS_LIMITS = {
  /** More entries than this is not a file this node wrote; it is refused as unreadable. */
  peersMax: 10_000,
  idBytesMax: PEER_NODE_ID_LENGTH_MAX,
} as const;

/** The peers this node knew at its last write, or "unreadable" for a file it cannot trust. */
export type KnownPeers = readonly NodeId[] | "unreadable";

/** `files` defaults to the state files of `dataDir` (the simulator gives its disk's). */
export async function readKnownPeers(
  dataDir: string,
  files: StateFiles = dataDirStateFiles(dataDir),
): Promise<KnownPeers> {
  let value: unknown;
  try {
    value = await files.read(KNOWN_PEERS_FILE);
  } catch {
    return "unreadable";
  }
  if (value === undefined) return [];
  // typescript-eslint resolves `value` (unknown) as an error type here; the cast is what lets the checks below read fields.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const candidate = value as { format?: unknown; peers?: unknown } | null;
  if (
    candidate === null ||
    typeof candidate !== "object" ||
    candidate.format !== KNOWN_PEERS_FORMAT ||
    !Array.isArray(candidate.peers) ||
    candidate.peers.length > KNOWN_PEERS_LIMITS.peersMax ||
    !candidate.peers.every((id) => typeof id === "string" && id.length > 0 && id.length <= KNOWN_PEERS_LIMITS.idBytesMax)
  ) {
    return "unreadable";
  }
  return [...new Set(candidate.peers as string[])];
}

export async function writeKnownPeers(
  dataDir: string,
  peers: readonly NodeId[],
  files: StateFiles = dataDirStateFiles(dataDir),
): Promise<void> {
  const body = { format: KNOWN_PEERS_FORMAT, peers: [...peers].sort() };
  await files.write(KNOWN_PEERS_FILE, `${JSON.stringify(body, null, 2)}\n`);
}

/**
 * Keeps peers.json equal to the latest view it was given: one write in flight, and a view that
 * arrives meanwhile is written after it (only the newest), so bursts of membership events cost at
 * most two writes.
 */
export class KnownPeersWriter {
  readonly #write: (peers: readonly NodeId[]) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #written: string;
  #pending: readonly NodeId[] | null = null;
  #running: Promise<void> | null = null;

  constructor(options: {
    readonly initial: KnownPeers;
    readonly write: (peers: readonly NodeId[]) => Promise<void>;
    readonly onError: (error: unknown) => void;
  }) {
    this.#write = options.write;
    this.#onError = options.onError;
    this.#written = options.initial === "unreadable" ? "" : keyOf(options.initial);
  }

  /** Records the current view; writes it unless it equals what the file holds. */
  update(peers: readonly NodeId[]): void {
    if (keyOf(peers) === this.#written && this.#pending === null) return;
    this.#pending = peers;
    this.#running ??= this.#drain();
  }

  /** Resolves once every view given so far is on disk (or failed and was reported). */
  async flushed(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== null) {
        const peers = this.#pending;
        this.#pending = null;
        const key = keyOf(peers);
        if (key === this.#written) continue;
        try {
          await this.#write(peers);
          this.#written = key;
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#running = null;
    }
  }
}

function keyOf(peers: readonly NodeId[]): string {
  return JSON.stringify([...peers].sort());
}
