// gossip/endpoint-state.ts — one member's endpoint state, how deltas merge into it, and how a delta
// is cut from it.
//
// Theory of operation. As in Cassandra's EndpointState, a member is known by its generation (its
// start time: a restart has a larger one) and a set of application states, key → (value, version).
// Versions come from the member's own counter, which increases with every local change (Cassandra's
// VersionGenerator), so within one generation every version names exactly one change, and a state
// with a higher version is newer. Only the member itself writes its states; everyone else copies
// them.
//
// `maxVersion` here is the version through which this node holds the member's state completely:
// every state the member had with a version at or below it is here (or was superseded by a newer
// one that is). It is what digests carry. A delta entry claims a range (fromVersion,
// throughVersion] it holds completely; merging applies every state that is newer than ours, but
// advances maxVersion only when the claim starts at or below it. That is what lets rumors (which
// carry one changed state, not the whole history) coexist with digests: a rumored state is applied
// at once, and the gap below it is still visible in our digest, so the next exchange fills it.
// Cutting a delta sends states in version order, so a delta truncated by the byte budget is still a
// valid claim for its prefix.

import type { Address, NodeId } from "../core/ids.js";
import { assert } from "../core/assert.js";
import { hashDigest, hashId, type DigestHash, type IdHash } from "./digest.js";
import {
  estimateEntryBytes,
  estimateStateBytes,
  type AppStateEntry,
  type Delta,
  type Digest,
} from "./messages.js";

export interface AppState {
  readonly value: string;
  readonly version: number;
}

export interface EndpointState {
  readonly id: NodeId;
  readonly address: Address;
  readonly generation: number;
  readonly appStates: ReadonlyMap<string, AppState>;
  /** The version through which this node holds the member's state completely (see above). */
  readonly maxVersion: number;
}

/**
 * One application state as stored and as sent: the same frozen-by-convention object moves from a
 * delta into the store and from the store into the next delta, so a simulator that passes messages
 * by reference keeps one copy of each state for all its nodes, not one per node (N² at 4,000
 * nodes).
 */
export type StoredState = Readonly<AppStateEntry>;

/** Shared by every record that holds no state yet; frozen, so it is not mutable module state. */
const NO_STATES: readonly StoredState[] = Object.freeze([]);

/** A read-only Map view over a record's states, made on demand (records keep a plain array). */
class AppStatesView implements ReadonlyMap<string, AppState> {
  constructor(private readonly states: readonly StoredState[]) {}

  get size(): number {
    return this.states.length;
  }

  get(key: string): AppState | undefined {
    return this.states.find((state) => state.key === key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  forEach(
    callback: (value: AppState, key: string, map: ReadonlyMap<string, AppState>) => void,
  ): void {
    for (const state of this.states) callback(state, state.key, this);
  }

  *entries(): MapIterator<[string, AppState]> {
    for (const state of this.states) yield [state.key, state];
  }

  *keys(): MapIterator<string> {
    for (const state of this.states) yield state.key;
  }

  *values(): MapIterator<AppState> {
    yield* this.states;
  }

  [Symbol.iterator](): MapIterator<[string, AppState]> {
    return this.entries();
  }
}

/**
 * The gossiper's mutable record of one member; handed out read-only as an EndpointState. Kept small
 * (states in an array, hash lanes as int32 numbers): a node holds one per member, so a simulated
 * cluster of N nodes holds N² of them.
 */
export class EndpointRecord implements EndpointState {
  readonly id: NodeId;
  readonly address: Address;
  readonly generation: number;
  maxVersion = 0;
  /** Replaced, never mutated, so a view handed out stays consistent. */
  private states: readonly StoredState[] = NO_STATES;
  readonly idHashA: number;
  readonly idHashB: number;
  /** The hash of the digest as counted in the summary, per lane. */
  private hashA: number;
  private hashB: number;

  constructor(options: {
    id: NodeId;
    address: Address;
    generation: number;
    idHash?: IdHash | undefined;
  }) {
    assert(options.generation > 0, "a generation is positive (0 means unknown in requests)");
    this.id = options.id;
    this.address = options.address;
    this.generation = options.generation;
    const idHash = options.idHash ?? hashId(options.id);
    this.idHashA = idHash.a | 0;
    this.idHashB = idHash.b | 0;
    const hash = hashDigest(idHash, this.generation, this.maxVersion);
    this.hashA = hash.a | 0;
    this.hashB = hash.b | 0;
  }

  get appStates(): ReadonlyMap<string, AppState> {
    return new AppStatesView(this.states);
  }

  get idHash(): IdHash {
    return { a: this.idHashA >>> 0, b: this.idHashB >>> 0 };
  }

  /** The hash of the digest as last counted in the summary. */
  get hash(): DigestHash {
    return { a: this.hashA >>> 0, b: this.hashB >>> 0 };
  }

  /**
   * Recomputes the digest hash after maxVersion moved; returns the old and new hashes for the
   * caller to swap in the summary, or null when nothing moved.
   */
  rehash(): { readonly before: DigestHash; readonly after: DigestHash } | null {
    const after = hashDigest(this.idHash, this.generation, this.maxVersion);
    if ((after.a | 0) === this.hashA && (after.b | 0) === this.hashB) return null;
    const before = this.hash;
    this.hashA = after.a | 0;
    this.hashB = after.b | 0;
    return { before, after };
  }

  digest(): Digest {
    return { id: this.id, generation: this.generation, maxVersion: this.maxVersion };
  }

  get stateCount(): number {
    return this.states.length;
  }

  state(key: string): StoredState | undefined {
    return this.states.find((state) => state.key === key);
  }

  /** Stores a state, replacing the one with the same key. */
  put(state: StoredState): void {
    const index = this.states.findIndex((held) => held.key === state.key);
    // concat and map allocate exactly; spread and push reserve slack (V8), which N² records would
    // pay for.
    this.states =
      index >= 0
        ? this.states.map((held, i) => (i === index ? state : held))
        : this.states.concat([state]);
  }

  /** Whether any state is newer than `version` (maxVersion may lag behind rumored states). */
  hasStatesAbove(version: number): boolean {
    if (this.maxVersion > version) return true;
    return this.states.some((state) => state.version > version);
  }

  /** States with a version above `version`, oldest first. */
  statesAbove(version: number): StoredState[] {
    return this.states
      .filter((state) => state.version > version)
      .sort((x, y) => x.version - y.version);
  }

  /** The oldest state at or above `version`, if any. */
  oldestStateFrom(version: number): StoredState | undefined {
    let oldest: StoredState | undefined;
    for (const state of this.states) {
      if (state.version >= version && (oldest === undefined || state.version < oldest.version))
        oldest = state;
    }
    return oldest;
  }
}

export interface CutDelta {
  readonly delta: Delta;
  readonly bytes: number;
  /** Some states above fromVersion did not fit. */
  readonly truncated: boolean;
}

/**
 * Cuts the delta (fromVersion, throughVersion] of a record within `bytesAvailable` (estimated): all
 * states above fromVersion, oldest first, as many as fit; a truncated delta claims only up to its
 * last state. Returns null when not even the entry and its first state fit.
 */
export function cutDelta(
  record: EndpointRecord,
  claim: { fromVersion: number; throughVersion: number },
  bytesAvailable: number,
): CutDelta | null {
  assert(claim.throughVersion >= claim.fromVersion, "a delta claim ends at or after it starts");
  let bytes = estimateEntryBytes(record.id, record.address);
  if (bytes > bytesAvailable) return null;
  const states: StoredState[] = [];
  let truncated = false;
  for (const state of record.statesAbove(claim.fromVersion)) {
    const cost = estimateStateBytes(state.key, state.value);
    if (bytes + cost > bytesAvailable) {
      truncated = true;
      break;
    }
    bytes += cost;
    states.push(state);
  }
  const last = states[states.length - 1];
  if (truncated && last === undefined) return null;
  const throughVersion =
    truncated && last !== undefined
      ? Math.min(claim.throughVersion, last.version)
      : claim.throughVersion;
  return {
    delta: {
      id: record.id,
      address: record.address,
      generation: record.generation,
      fromVersion: claim.fromVersion,
      throughVersion: Math.max(claim.fromVersion, throughVersion),
      states,
    },
    bytes,
    truncated,
  };
}

export interface MergeOptions {
  readonly urgentKeys: ReadonlySet<string>;
  readonly appStatesPerEndpointMax: number;
}

export interface MergeResult {
  /** Some application state took a newer value. */
  readonly changed: boolean;
  /** The oldest version among the urgent states that took a newer value, or null. */
  readonly urgentVersionMin: number | null;
  /** States refused because the record already holds `appStatesPerEndpointMax` keys. */
  readonly refused: number;
}

/**
 * Merges a delta entry of the record's own generation: each state newer than ours wins, older ones
 * are ignored; maxVersion advances to the claim's end when the claim starts within what we hold. A
 * new key beyond the per-member bound is refused, and then the claim is not trusted either (we
 * would otherwise claim to hold a state we dropped).
 */
export function mergeDelta(
  record: EndpointRecord,
  delta: Delta,
  options: MergeOptions,
): MergeResult {
  assert(
    delta.id === record.id && delta.generation === record.generation,
    "merge within one member and generation",
  );
  let changed = false;
  let urgentVersionMin: number | null = null;
  let refused = 0;
  for (const state of delta.states) {
    const held = record.state(state.key);
    if (held !== undefined && held.version >= state.version) continue;
    if (held === undefined && record.stateCount >= options.appStatesPerEndpointMax) {
      refused += 1;
      continue;
    }
    record.put(state);
    changed = true;
    if (options.urgentKeys.has(state.key)) {
      urgentVersionMin =
        urgentVersionMin === null ? state.version : Math.min(urgentVersionMin, state.version);
    }
  }
  if (
    refused === 0 &&
    delta.fromVersion <= record.maxVersion &&
    delta.throughVersion > record.maxVersion
  ) {
    record.maxVersion = delta.throughVersion;
  }
  return { changed, urgentVersionMin, refused };
}
