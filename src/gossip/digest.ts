// gossip/digest.ts — digests of endpoint states and the order-independent summary of a whole view.
//
// Theory of operation. A digest is Cassandra's GossipDigest, (id, generation, maxVersion): enough
// to tell which of two nodes holds the newer state of a member without sending the state. Comparing
// two nodes member by member costs a message proportional to the membership, so a round first
// compares one summary of the whole view: the sum, in two independent 32-bit lanes (64 bits in
// all), of a hash of every member's digest. A sum does not depend on the order members were learned
// in, and it can be kept incrementally: when a member's digest changes, subtract its old hash and
// add the new one. The gossiper does exactly that on every change, so a round never walks the
// membership to learn whether two nodes agree (the simulator runs thousands of nodes in one
// process). Equal summaries mean equal digests except with probability about 2^-64 per comparison;
// a false "equal" only delays a repair to the next round with another peer. The hashes are
// murmur3's finalizer over UTF-16 code units: fast, well mixed, identical on every node; they need
// not resist an adversary (peers are authenticated).

import { fmix32 } from "../core/hash.js";
import type { NodeId } from "../core/ids.js";

/** One member's digest, as compared between two nodes. */
export interface DigestOf {
  readonly id: NodeId;
  readonly generation: number;
  readonly maxVersion: number;
}

/** A member id hashed once, in two lanes, and kept with its endpoint state. */
export interface IdHash {
  readonly a: number;
  readonly b: number;
}

/** The hash of one digest, in two 32-bit lanes. */
export interface DigestHash {
  readonly a: number;
  readonly b: number;
}

const LANE_A_SEED = 0x9747b28c;
const LANE_B_SEED = 0x2f6b1c3d;
const TWO_POW_32 = 0x1_0000_0000;

function absorb(hash: number, word: number): number {
  return fmix32(Math.imul(hash ^ (word >>> 0), 0x5bd1e995) + 0x6b43a9b5);
}

function hashText(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++)
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995) ^ (h >>> 15);
  return fmix32(h ^ text.length);
}

/**
 * Safe integers up to 2^53 as two 32-bit words (generations are epoch milliseconds, above 2^32).
 */
function absorbInteger(hash: number, value: number): number {
  return absorb(absorb(hash, value % TWO_POW_32), Math.floor(value / TWO_POW_32));
}

export function hashId(id: NodeId): IdHash {
  return { a: hashText(id, LANE_A_SEED), b: hashText(id, LANE_B_SEED) };
}

export function hashDigest(idHash: IdHash, generation: number, maxVersion: number): DigestHash {
  return {
    a: absorbInteger(absorbInteger(idHash.a, generation), maxVersion),
    b: absorbInteger(absorbInteger(idHash.b, generation), maxVersion),
  };
}

/** The running sum of digest hashes, mod 2^32 in each lane. */
export class Summary {
  private a = 0;
  private b = 0;

  add(hash: DigestHash): void {
    this.a = (this.a + hash.a) >>> 0;
    this.b = (this.b + hash.b) >>> 0;
  }

  remove(hash: DigestHash): void {
    this.a = (this.a - hash.a) >>> 0;
    this.b = (this.b - hash.b) >>> 0;
  }

  /** 16 lowercase hex digits, as carried by gossip-syn. */
  toString(): string {
    return this.a.toString(16).padStart(8, "0") + this.b.toString(16).padStart(8, "0");
  }
}

/**
 * The summary of a set of digests computed from scratch; the gossiper's incremental one must equal
 * it.
 */
export function summarize(digests: Iterable<DigestOf>): string {
  const summary = new Summary();
  for (const digest of digests)
    summary.add(hashDigest(hashId(digest.id), digest.generation, digest.maxVersion));
  return summary.toString();
}

/**
 * What a node holding `local` should do about a peer's digest `remote` of the same member
 * (Cassandra's examineGossiper): "send" when it holds newer state, "request" when the peer does,
 * "none" when equal. A newer generation wins whatever the versions; an unknown member (local
 * undefined) is requested.
 */
export function compareDigest(
  local: DigestOf | undefined,
  remote: DigestOf,
): "send" | "request" | "none" {
  if (local === undefined) return "request";
  if (local.generation !== remote.generation)
    return local.generation > remote.generation ? "send" : "request";
  if (local.maxVersion === remote.maxVersion) return "none";
  return local.maxVersion > remote.maxVersion ? "send" : "request";
}

/** Whether `id` falls in the cyclic id range [first, last] of a digest window sorted by id. */
export function inCyclicRange(id: NodeId, first: NodeId, last: NodeId): boolean {
  return first <= last ? id >= first && id <= last : id >= first || id <= last;
}
