// cluster/metadata.ts — the versioned cluster metadata that gossip spreads: bucket properties now
// (issue 17 §2), authentication tokens later (the security issue), in one layer.
//
// Theory of operation. The metadata is a map of namespaced entries, `bucket/<name>` → a value (its
// properties as JSON text). Each entry carries a version: the hybrid-logical-clock timestamp of the
// change that wrote it and the id of the node that made it. Entries are last-writer-wins registers:
// merging two maps takes, per name, the entry with the larger (stampUs, origin, value), so merge is
// commutative, associative and idempotent (a join), and any two nodes that have seen the same
// changes hold the same map whatever order the changes reached them in. Concurrent changes resolve
// the same way everywhere: the later stamp wins, ties go to the larger origin id (the value breaks
// ties nothing else can; one node never stamps two changes alike, time/hlc.ts). A namespace that
// needs deletion writes a value that says so: an entry is never dropped, or an old copy would
// resurrect it.
//
// The digest is the order-independent sum (gossip/digest.ts Summary, two 32-bit lanes) of a hash
// of every entry, kept incrementally: two nodes compare one 16-hex-digit text, as membership does,
// and only exchange entries when it differs. Equal maps have equal digests; unequal maps have
// unequal ones except with probability about 2^-64.
//
// Pure: no clock, no IO. The node stamps changes and saves the map (node/build-metadata.ts).

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { hashId, Summary, type DigestHash } from "../gossip/digest.js";

export const METADATA_LIMITS = {
  /** `namespace/name`: a namespace word and a name (a bucket name is ≤ 64 characters). */
  keyLengthMax: 160,
  /** An entry's value in characters: bucket properties are a few hundred. */
  valueLengthMax: 16 * 1024,
  /** Entries in the whole map; a change past it is refused by the API before it is stamped. */
  entriesMax: 100_000,
  /** The origin's id, as any peer message bounds it. */
  originLengthMax: PEER_NODE_ID_LENGTH_MAX,
} as const;

/** `namespace/name`, namespace in lowercase letters; no NUL anywhere (the digest relies on it). */
export function isMetadataKey(key: string): boolean {
  return /^[a-z]+\/./.test(key) && !key.includes("\u0000");
}

export interface MetadataVersion {
  /** The HLC timestamp of the change (µs). */
  readonly stampUs: number;
  /** The node that made the change: the tie-break. */
  readonly origin: NodeId;
}

export interface MetadataEntry {
  readonly key: string;
  readonly value: string;
  readonly version: MetadataVersion;
}

/** Orders entries of one key: the larger wins a merge. 0 only for identical entries. */
export function compareEntries(a: MetadataEntry, b: MetadataEntry): number {
  if (a.version.stampUs !== b.version.stampUs)
    return a.version.stampUs < b.version.stampUs ? -1 : 1;
  if (a.version.origin !== b.version.origin) return a.version.origin < b.version.origin ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}

/** Whether an entry is within the layer's bounds (peers' entries are checked by their schema). */
export function isValidEntry(entry: MetadataEntry): boolean {
  return (
    entry.key.length <= METADATA_LIMITS.keyLengthMax &&
    isMetadataKey(entry.key) &&
    entry.value.length <= METADATA_LIMITS.valueLengthMax &&
    Number.isSafeInteger(entry.version.stampUs) &&
    entry.version.stampUs >= 0 &&
    entry.version.origin.length >= 1 &&
    entry.version.origin.length <= METADATA_LIMITS.originLengthMax
  );
}

function hashEntry(entry: MetadataEntry): DigestHash {
  const { key, value, version } = entry;
  // NUL cannot occur in a key, and the stamp is digits, so the concatenation is unambiguous.
  return hashId(`${key}\u0000${version.stampUs}\u0000${version.origin}\u0000${value}`);
}

/** The digest of entries computed from scratch; ClusterMetadata's running one equals it. */
export function digestOf(entries: Iterable<MetadataEntry>): string {
  const summary = new Summary();
  for (const entry of entries) summary.add(hashEntry(entry));
  return summary.toString();
}

/** The merge of two maps as a new map: per key, the larger entry (compareEntries). */
export function mergeEntries(
  a: ReadonlyMap<string, MetadataEntry>,
  b: ReadonlyMap<string, MetadataEntry>,
): Map<string, MetadataEntry> {
  const merged = new Map(a);
  for (const [key, entry] of b) {
    const mine = merged.get(key);
    if (mine === undefined || compareEntries(mine, entry) < 0) merged.set(key, entry);
  }
  return merged;
}

/** The metadata one node holds: the map, its running digest, and the changes to announce. */
export class ClusterMetadata {
  private readonly entries = new Map<string, MetadataEntry>();
  private readonly summary = new Summary();
  private maxStamp = 0;
  private announcements: MetadataEntry[] = [];
  private readonly listeners: ((entry: MetadataEntry) => void)[] = [];

  constructor(initial: Iterable<MetadataEntry> = []) {
    for (const entry of initial) this.merge(entry);
  }

  /**
   * Merges one entry; true when it changed the map (a newer entry, or a new key). Listeners hear of
   * every change, local or from a peer.
   */
  merge(entry: MetadataEntry): boolean {
    assert(isValidEntry(entry), () => `metadata entry out of bounds: ${entry.key}`);
    const mine = this.entries.get(entry.key);
    if (mine !== undefined && compareEntries(mine, entry) >= 0) return false;
    if (mine !== undefined) this.summary.remove(hashEntry(mine));
    this.entries.set(entry.key, entry);
    this.summary.add(hashEntry(entry));
    this.maxStamp = Math.max(this.maxStamp, entry.version.stampUs);
    for (const listener of this.listeners) listener(entry);
    return true;
  }

  /** A change made on this node: merged, and announced to peers at the next tick when it won. */
  setLocal(entry: MetadataEntry): boolean {
    const changed = this.merge(entry);
    if (changed) this.announcements.push(entry);
    return changed;
  }

  /** Local changes not yet pushed to peers (metadata-gossip.ts takes them every tick). */
  takeAnnouncements(): MetadataEntry[] {
    const taken = this.announcements;
    this.announcements = [];
    return taken;
  }

  onChange(listener: (entry: MetadataEntry) => void): void {
    this.listeners.push(listener);
  }

  get(key: string): MetadataEntry | undefined {
    return this.entries.get(key);
  }

  get size(): number {
    return this.entries.size;
  }

  digest(): string {
    return this.summary.toString();
  }

  /** The largest stamp held: a peer's pull names it, and gets entries stamped after it. */
  maxStampUs(): number {
    return this.maxStamp;
  }

  /** Every entry, in key order. */
  list(): MetadataEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Entries of one namespace (`bucket`), in key order. */
  listNamespace(namespace: string): MetadataEntry[] {
    const prefix = `${namespace}/`;
    return this.list().filter((entry) => entry.key.startsWith(prefix));
  }

  /** Entries stamped after `stampUs`, oldest first, as many as `fits` admits in that order. */
  newerThan(stampUs: number, fits: (entry: MetadataEntry) => boolean): MetadataEntry[] {
    if (stampUs >= this.maxStamp) return [];
    const newer = [...this.entries.values()]
      .filter((entry) => entry.version.stampUs > stampUs)
      .sort((a, b) => a.version.stampUs - b.version.stampUs || compareEntries(a, b));
    return takeWhile(newer, fits);
  }

  /**
   * A page of entries in key order after `cursor` (null: from the start), as many as `fits`
   * admits; `next` is where the following page starts, null when this one reached the end.
   */
  pageAfter(
    cursor: string | null,
    fits: (entry: MetadataEntry) => boolean,
  ): { entries: MetadataEntry[]; next: string | null } {
    const rest = this.list().filter((entry) => cursor === null || entry.key > cursor);
    const page = takeWhile(rest, fits);
    const last = page[page.length - 1];
    const next = page.length < rest.length && last !== undefined ? last.key : null;
    return { entries: page, next };
  }
}

function takeWhile(entries: readonly MetadataEntry[], fits: (entry: MetadataEntry) => boolean) {
  const taken: MetadataEntry[] = [];
  for (const entry of entries) {
    if (!fits(entry)) break;
    taken.push(entry);
  }
  return taken;
}
