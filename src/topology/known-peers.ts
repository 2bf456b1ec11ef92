// topology/known-peers.ts — the other members this node has seen in the ring, persisted in
// `<data-dir>/peers.json` (Cassandra's system.peers) so that a restart knows whom it must hear
// about before it coordinates client requests, and what it must not forget meanwhile.
//
// Why: a node starts knowing only itself; the rest of the ring arrives by gossip. A node with seeds
// waits until a peer has spoken and the ring has held still (cluster/ring-settle.ts), but the first
// member of a cluster has no seeds, so after a restart it had no reason to wait, and it served from
// a ring of itself plus whoever had gossiped to it so far: quorum writes went to nodes that were
// not the key's replicas (test/faults/coordinator-restart, 24 stale reads in CI). With this file it
// waits until every peer it knew is back in its view (at once, for a peer saved with its tokens).
//
// Format 2 (issue 21 §2) also keeps each peer's address, generation, status and tokens, and the
// tombstones of members gone for good: a starting view takes the peers back as down with their
// tokens (cluster/saved-members.ts), so a whole-cluster restart with one member still dead keeps
// that member's ranges where they were, and a removal survives its remover's restart
// (cluster/removal-book.ts). A tombstone is kept for TOMBSTONE_HORIZON_MS after this node first
// saved it (Cassandra keeps a removed endpoint's state for three days, its "very long time"), then
// dropped from the file and no longer republished. A format 1 file (ids only) still loads, as peers
// without tokens: the restart waits for them as before.
//
// The file is written only by a node whose ring has settled, so a half-learned view never replaces
// a full one; atomically (storage/atomic-file.ts: a temporary file, fsync, rename). An unreadable
// file does not stop the start: the node logs it and waits as if it had peers (the safe side), and
// the file is rewritten once the ring settles.
//
// Limits: a peer removed from the cluster while this node was down, by a remover that has not run
// since, is only forgotten here once some member republishes the removal. And a member that joined
// while this node was down is not in its file: like Cassandra, it learns that member by gossip.

import { MEMBER_STATUSES, type MemberStatus, type NodeId } from "../core/ids.js";
import { PEER_ADDRESS_LENGTH_MAX, PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { CLUSTER_VIEW_DEFAULTS } from "../cluster/cluster-view-defaults.js";
import { TOMBSTONES_MAX, type Tombstone } from "../cluster/removal-book.js";
import type { SavedMember, SavedMembership } from "../cluster/saved-members.js";
import { tokenFromString, tokenToString } from "../ring/partitioner.js";
import { dataDirStateFiles } from "../storage/atomic-file.js";
import type { StateFiles } from "../storage/state-files.js";

export const KNOWN_PEERS_FILE = "peers.json";
/** 1: peer ids only; 2: with each peer's address, generation, status and tokens, and tombstones. */
const KNOWN_PEERS_FORMAT = 2;
const KNOWN_PEERS_FORMAT_IDS_ONLY = 1;

/** How long a tombstone is kept after this node first saved it: Cassandra's three days. */
export const TOMBSTONE_HORIZON_MS = 3 * 24 * 3_600_000;

export const KNOWN_PEERS_LIMITS = {
  /** More entries than this is not a file this node wrote; it is refused as unreadable. */
  peersMax: 10_000,
  idBytesMax: PEER_NODE_ID_LENGTH_MAX,
  addressBytesMax: PEER_ADDRESS_LENGTH_MAX,
  tokensPerPeerMax: CLUSTER_VIEW_DEFAULTS.tokensPerMemberMax,
  tombstonesMax: TOMBSTONES_MAX,
} as const;

/** A tombstone as saved: when this node first saved it (wall ms), for the horizon. */
export interface SavedTombstone extends Tombstone {
  readonly savedAtMs: number;
}

/** What peers.json holds: the peers' ids, the saved members (format 2) and the tombstones. */
export interface KnownPeersState {
  readonly peers: readonly NodeId[];
  readonly members: readonly SavedMember[];
  readonly tombstones: readonly SavedTombstone[];
}

/** The peers this node knew at its last write, or "unreadable" for a file it cannot trust. */
export type KnownPeers = KnownPeersState | "unreadable";

export const NO_KNOWN_PEERS: KnownPeersState = { peers: [], members: [], tombstones: [] };

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
  if (value === undefined) return NO_KNOWN_PEERS;
  // typescript-eslint resolves `value` (unknown) as an error type here; the cast is what lets the
  // checks below read fields.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const candidate = value as {
    format?: unknown;
    peers?: unknown;
    members?: unknown;
    tombstones?: unknown;
  } | null;
  if (candidate === null || typeof candidate !== "object" || !isIdList(candidate.peers))
    return "unreadable";
  const peers = [...new Set(candidate.peers)];
  if (candidate.format === KNOWN_PEERS_FORMAT_IDS_ONLY)
    return { peers, members: [], tombstones: [] };
  if (candidate.format !== KNOWN_PEERS_FORMAT) return "unreadable";
  const members = savedMembersIn(candidate.members);
  const tombstones = tombstonesIn(candidate.tombstones);
  if (members === null || tombstones === null) return "unreadable";
  return {
    peers: [...new Set([...peers, ...members.map((member) => member.id)])],
    members,
    tombstones,
  };
}

export async function writeKnownPeers(
  dataDir: string,
  state: KnownPeersState,
  files: StateFiles = dataDirStateFiles(dataDir),
): Promise<void> {
  await files.write(KNOWN_PEERS_FILE, `${JSON.stringify(bodyOf(state), null, 2)}\n`);
}

/** The file's body: ids sorted (what format 1 held), then the members and tombstones. */
function bodyOf(state: KnownPeersState): object {
  const members = [...state.members]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((member) => ({ ...member, tokens: member.tokens.map(tokenToString) }));
  return {
    format: KNOWN_PEERS_FORMAT,
    peers: [...state.peers].sort(),
    members,
    tombstones: state.tombstones,
  };
}

/**
 * What to save of a view (ClusterEngine.savedMembership): its members, and its tombstones each with
 * the time this node first saved it (`stamps`, by id and generation: kept across writes, and
 * updated here). A tombstone past the horizon is left out, and returned in `expired` for the view
 * to forget.
 */
export function knownPeersOf(
  saved: SavedMembership,
  stamps: Map<string, number>,
  nowWallMs: number,
): { state: KnownPeersState; expired: Tombstone[] } {
  const tombstones: SavedTombstone[] = [];
  const expired: Tombstone[] = [];
  for (const tombstone of saved.tombstones) {
    const key = `${tombstone.id}@${tombstone.generation}`;
    const savedAtMs = stamps.get(key) ?? nowWallMs;
    stamps.set(key, savedAtMs);
    if (nowWallMs - savedAtMs > TOMBSTONE_HORIZON_MS) expired.push(tombstone);
    else tombstones.push({ id: tombstone.id, generation: tombstone.generation, savedAtMs });
  }
  return {
    state: { peers: saved.members.map((member) => member.id), members: saved.members, tombstones },
    expired,
  };
}

/** The stamps of a loaded file's tombstones, for knownPeersOf. */
export function tombstoneStamps(known: KnownPeers): Map<string, number> {
  const stamps = new Map<string, number>();
  if (known !== "unreadable")
    for (const t of known.tombstones) stamps.set(`${t.id}@${t.generation}`, t.savedAtMs);
  return stamps;
}

/**
 * What a starting view is given: the saved members, and the tombstones still within the horizon.
 */
export function savedMembershipOf(known: KnownPeers, nowWallMs: number): SavedMembership {
  if (known === "unreadable") return { members: [], tombstones: [] };
  const tombstones = known.tombstones
    .filter((t) => nowWallMs - t.savedAtMs <= TOMBSTONE_HORIZON_MS)
    .map(({ id, generation }) => ({ id, generation }));
  return { members: known.members, tombstones };
}

function isIdList(value: unknown): value is string[] {
  const l = KNOWN_PEERS_LIMITS;
  return Array.isArray(value) && value.length <= l.peersMax && value.every((id) => isId(id));
}

function isId(value: unknown): value is string {
  return (
    typeof value === "string" && value.length > 0 && value.length <= KNOWN_PEERS_LIMITS.idBytesMax
  );
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The saved members of a format 2 file, or null when any is malformed. */
function savedMembersIn(value: unknown): SavedMember[] | null {
  const l = KNOWN_PEERS_LIMITS;
  if (!Array.isArray(value) || value.length > l.peersMax) return null;
  const members: SavedMember[] = [];
  for (const item of value as unknown[]) {
    if (item === null || typeof item !== "object") return null;
    const { id, address, generation, status, tokens } = item as Record<string, unknown>;
    if (
      !isId(id) ||
      typeof address !== "string" ||
      address.length === 0 ||
      address.length > l.addressBytesMax
    )
      return null;
    if (!isCount(generation) || !isSavedStatus(status)) return null;
    if (!Array.isArray(tokens) || tokens.length > l.tokensPerPeerMax) return null;
    if (!tokens.every((token) => typeof token === "string" && /^[0-9a-f]{16}$/.test(token)))
      return null;
    members.push({
      id,
      address,
      generation,
      status,
      tokens: (tokens as string[]).map(tokenFromString),
    });
  }
  return members;
}

function isSavedStatus(value: unknown): value is Exclude<MemberStatus, "left"> {
  return value !== "left" && (MEMBER_STATUSES as readonly unknown[]).includes(value);
}

/** The tombstones of a format 2 file (absent: none), or null when any is malformed. */
function tombstonesIn(value: unknown): SavedTombstone[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > KNOWN_PEERS_LIMITS.tombstonesMax) return null;
  const tombstones: SavedTombstone[] = [];
  for (const item of value as unknown[]) {
    if (item === null || typeof item !== "object") return null;
    const { id, generation, savedAtMs } = item as Record<string, unknown>;
    if (!isId(id) || !isCount(generation) || !isCount(savedAtMs)) return null;
    tombstones.push({ id, generation, savedAtMs });
  }
  return tombstones;
}

/**
 * Keeps peers.json equal to the latest view it was given: one write in flight, and a view that
 * arrives meanwhile is written after it (only the newest), so bursts of membership events cost at
 * most two writes. A view equal to what the file holds is not written.
 */
export class KnownPeersWriter {
  readonly #write: (state: KnownPeersState) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #written: string;
  #pending: KnownPeersState | null = null;
  #running: Promise<void> | null = null;

  constructor(options: {
    readonly initial: KnownPeers;
    readonly write: (state: KnownPeersState) => Promise<void>;
    readonly onError: (error: unknown) => void;
  }) {
    this.#write = options.write;
    this.#onError = options.onError;
    this.#written = options.initial === "unreadable" ? "" : keyOf(options.initial);
  }

  /** Records the current view; writes it unless it equals what the file holds. */
  update(state: KnownPeersState): void {
    if (keyOf(state) === this.#written && this.#pending === null) return;
    this.#pending = state;
    this.#running ??= this.#drain();
  }

  /** Resolves once every view given so far is on disk (or failed and was reported). */
  async flushed(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== null) {
        const state = this.#pending;
        this.#pending = null;
        const key = keyOf(state);
        if (key === this.#written) continue;
        try {
          await this.#write(state);
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

function keyOf(state: KnownPeersState): string {
  return JSON.stringify(bodyOf(state));
}
