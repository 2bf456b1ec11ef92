// The contract between the pure membership core (gossip + detector + ring, composed in
// cluster-view.ts) and the two shells that drive it: the real node (node/, net/) and the simulator
// (sim/). Both call tick() on a timer and receive() for every peer message that arrives, and send
// every Outbound they are given. Neither shell knows what a message means.

import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import type { TokenMap } from "../ring/token-map.js";
import type { ClusterMetadata } from "./metadata.js";
import type { PeerMessage } from "./peer-messages.js";
import type { Tombstone } from "./removal-book.js";
import type { SavedMembership } from "./saved-members.js";

/**
 * A message the core wants sent. `to` is null when only the address is known (a seed not met yet).
 */
export interface Outbound {
  readonly to: NodeId | null;
  readonly address: Address;
  readonly message: PeerMessage;
}

export interface ClusterEngineOptions {
  readonly id: NodeId;
  readonly address: Address;
  /**
   * Start time in ms since the epoch at this start; a restart gets a larger one (Cassandra's
   * generation).
   */
  readonly generation: number;
  /** This node's tokens (64-bit, unsigned), chosen at first start and persisted by the shell. */
  readonly tokens: readonly bigint[];
  readonly status: MemberStatus;
  /** Seed addresses; may include this node's own address, which is ignored. */
  readonly seeds: readonly Address[];
  readonly replicationFactor: number;
  readonly gossipIntervalMs: number;
  readonly phiThreshold: number;
  /** What this node saved at its last run (saved-members.ts): members it knew, and tombstones. */
  readonly saved?: SavedMembership;
  /**
   * The cluster metadata this engine spreads (metadata.ts), owned by the node; absent: the engine
   * gossips none and ignores metadata messages.
   */
  readonly metadata?: ClusterMetadata;
}

export type ClusterEvent =
  | { readonly kind: "member-joined"; readonly id: NodeId }
  | { readonly kind: "member-up"; readonly id: NodeId }
  | { readonly kind: "member-down"; readonly id: NodeId }
  | { readonly kind: "member-restarted"; readonly id: NodeId; readonly generation: number }
  | { readonly kind: "status-changed"; readonly id: NodeId; readonly status: MemberStatus }
  | { readonly kind: "tokens-changed" }
  | { readonly kind: "member-removed"; readonly id: NodeId };

/** One member as this node sees it (SPEC §3 `/cluster/status`, less the storage fields). */
export interface MemberView {
  readonly id: NodeId;
  readonly address: Address;
  readonly status: MemberStatus;
  readonly live: boolean;
  /** This node's own phi for the member when it monitors it, else null. */
  readonly phi: number | null;
  readonly generation: number;
  readonly heartbeat: number;
  readonly tokens: number;
  /** Fraction of the ring's primary ranges that the member owns, 0..1. */
  readonly ownership: number;
  readonly keys: number | null;
  readonly bytes: number | null;
  /**
   * The member announced a clean stop of its current generation (absent: not known to this engine).
   */
  readonly shutdown?: boolean;
}

export interface MembershipEntry {
  readonly id: NodeId;
  readonly generation: number;
  readonly status: MemberStatus;
  readonly live: boolean;
}

/** Counters a shell exports as metrics and benches read. */
export interface ClusterStats {
  readonly gossipRounds: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly messagesRefused: number;
}

export interface ClusterEngine {
  /** How often the shell must call tick(); heartbeats go out every tick, gossip rounds when due. */
  readonly tickIntervalMs: number;
  /**
   * Called every `tickIntervalMs` (the shell's timer, or virtual time): heartbeats, and a gossip
   * round when due.
   */
  tick(nowMs: number): Outbound[];
  /** A validated peer message arrived; returns replies and any eager forwards. */
  receive(message: PeerMessage, nowMs: number): Outbound[];
  /** What changed since the last call, in order. */
  takeEvents(): ClusterEvent[];
  /**
   * Publish this node's load (keys, bytes) through gossip; cheap to call often, gossips on change
   * only.
   */
  setLoad(load: { keys: number; bytes: number }): void;
  /** Change this node's ring status (joining → normal → leaving → left). */
  setStatus(status: MemberStatus): void;
  members(nowMs: number): MemberView[];
  /** The ring of members in state normal, as this node sees it (rebuilt lazily after a change). */
  ring(): TokenMap;
  /**
   * A short fingerprint of the ring's owners and their tokens, kept incrementally: two views with
   * equal fingerprints hold the same ring (up to a 2^-64 hash collision), without building either.
   */
  ringFingerprint(): string;
  /**
   * Every known member's id, generation, status and liveness: members() without the costly fields.
   */
  membership(): MembershipEntry[];
  isLive(id: NodeId): boolean;
  stats(): ClusterStats;
  /**
   * This node stops cleanly: gossip a shutdown of this generation (peers count it down at once and
   * keep its tokens) and return the push of it to every live peer, to send before the node goes
   * quiet. Absent from engines that cannot announce; their peers convict the node by silence
   * instead.
   */
  announceShutdown?(nowMs: number): Outbound[];
  /**
   * What the node saves for its next start (ClusterEngineOptions.saved); absent from engines that
   * save nothing.
   */
  savedMembership?(): SavedMembership;
  /**
   * The metadata digest last heard from each peer (metadata-gossip.ts), for `grapevine status`;
   * absent from engines that spread no metadata.
   */
  metadataDigests?(): ReadonlyMap<NodeId, string>;
  /** Drops tombstones past the node's horizon, so they are no longer republished. */
  forgetTombstones?(tombstones: readonly Tombstone[]): void;
}

/** A ring change in progress: a member bootstrapping, decommissioning, or being removed. */
export interface RingChange {
  readonly kind: "bootstrap" | "decommission" | "removenode";
  readonly id: NodeId;
}

/**
 * What topology/ needs beyond ClusterEngine; cluster-view.ts implements it, test doubles may not.
 */
export interface TopologyEngine extends ClusterEngine {
  /** Announce (or, with [], withdraw) this node's tokens. */
  setTokens(tokens: readonly bigint[]): void;
  /** Publish the removal of a dead member, or mark it done. */
  announceRemoval(id: NodeId, phase: "removing" | "removed"): void;
  /** The ring once the changes in progress complete (normal + joining − leaving − removing). */
  futureRing(): TokenMap;
  ringChanges(): RingChange[];
  /** Joining members without tokens: nodes waiting for their turn to join. */
  waitingToJoin(): NodeId[];
  isRemoved(id: NodeId): boolean;
}

export function isTopologyEngine(engine: ClusterEngine): engine is TopologyEngine {
  const candidate = engine as Partial<TopologyEngine>;
  return typeof candidate.setTokens === "function" && typeof candidate.futureRing === "function";
}

export type ClusterEngineFactory = (options: ClusterEngineOptions, random: Random) => ClusterEngine;
