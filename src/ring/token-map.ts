// Token map: the ring of members in state `normal`, token → owner, and the ranges between tokens.
//
// Theory of operation. The state is two parallel arrays: the distinct tokens in ascending order and
// the owner of each. Token i owns the range (token[i-1], token[i]], going clockwise and wrapping
// past TOKEN_MAX back to 0n, as in the Dynamo paper (§4.2) and Cassandra's TokenMetadata: a key
// belongs to the first token at or after its own token. With one token the range is the whole ring
// and its start equals its end. The ranges cover the ring exactly once; this is asserted on every
// build.
//
// A TokenMap is immutable, and built deterministically from the same input on every node: a token
// claimed by two nodes goes to the lower NodeId in string order, so all nodes that see the same
// membership draw the same ring without talking about it. Lookups are a binary search over the
// sorted tokens (doubles first, bigints only to break ties), without allocation, since the
// coordinator runs one per request. Derived views (replica lists per replication factor,
// placement.ts) are memoized on the map itself: they stay valid for the map's whole life, and a new
// membership builds a new map, which drops them with the old one.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import { compareTokens, isToken, TOKEN_SPACE, type Token } from "./partitioner.js";

/**
 * Tokens in one ring. At 1024 tokens per member (cluster-view's cap) this is 4096 members, well
 * past what gossip is built for; a larger ring is a bug upstream, and build fails an assertion.
 */
export const TOKENS_PER_RING_MAX = 4_194_304;

/**
 * (start, end] clockwise, wrapping past TOKEN_MAX. owner owns `end`. start === end: the whole ring.
 */
export interface TokenRange {
  readonly start: Token;
  readonly end: Token;
  readonly owner: NodeId;
}

/** Bounds of a range, with or without its owner or replicas. */
export interface RangeBounds {
  readonly start: Token;
  readonly end: Token;
}

/**
 * Replica lists indexed like TokenMap.ranges(): entry i names the replicas of range i, primary
 * first.
 */
export type ReplicaLists = readonly (readonly NodeId[])[];

/** Computes the replica lists of a whole ring for one replication factor (placement.ts). */
export type PlacementStrategy = (ring: TokenMap, replicationFactor: number) => ReplicaLists;

/** The number of tokens in (start, end]; a range whose start equals its end is the whole ring. */
export function rangeWidth(range: RangeBounds): bigint {
  const width = range.end - range.start;
  return width > 0n ? width : width + TOKEN_SPACE;
}

/** Whether token lies in (start, end], going clockwise; start === end contains every token. */
export function rangeContains(range: RangeBounds, token: Token): boolean {
  const { start, end } = range;
  if (start < end) return token > start && token <= end;
  // Wrapping range (or the whole ring): everything after start, and everything up to end.
  return token > start || token <= end;
}

const TOKEN_SPACE_APPROXIMATION = Number(TOKEN_SPACE);

function compareNodeIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Claim {
  readonly token: Token;
  readonly owner: NodeId;
}

export class TokenMap {
  /** The ring with no members. */
  static readonly empty: TokenMap = new TokenMap([], []);

  /**
   * The ring of these owners' tokens. A token claimed by more than one node goes to the lowest
   * NodeId in string (UTF-16 code unit) order; a node that loses all its tokens that way owns
   * nothing.
   */
  static build(owners: ReadonlyMap<NodeId, readonly Token[]>): TokenMap {
    const claims: Claim[] = [];
    for (const [owner, tokens] of owners) {
      for (const token of tokens) {
        assert(isToken(token), () => `node ${owner} claims a token outside the ring: ${token}`);
        claims.push({ token, owner });
      }
      assert(
        claims.length <= TOKENS_PER_RING_MAX,
        () => `ring exceeds ${TOKENS_PER_RING_MAX} tokens`,
      );
    }
    if (claims.length === 0) return TokenMap.empty;
    claims.sort((a, b) => compareTokens(a.token, b.token) || compareNodeIds(a.owner, b.owner));
    const tokens: Token[] = [];
    const tokenOwners: NodeId[] = [];
    for (const claim of claims) {
      // Sorted by (token, owner): the first claim of each token is the lowest NodeId, which keeps
      // it.
      if (tokens.length > 0 && tokens[tokens.length - 1] === claim.token) continue;
      tokens.push(claim.token);
      tokenOwners.push(claim.owner);
    }
    return new TokenMap(tokens, tokenOwners);
  }

  /** Number of tokens (and of ranges). */
  readonly size: number;

  private readonly sortedTokens: readonly Token[];
  /** Number(token) of each token, for the fast first pass of rangeIndexOf. */
  private readonly approximateTokens: Float64Array;
  private readonly owners: readonly NodeId[];
  private readonly rangeList: readonly TokenRange[];
  private readonly nodeList: readonly NodeId[];
  private readonly placements = new Map<PlacementStrategy, Map<number, ReplicaLists>>();

  private constructor(sortedTokens: readonly Token[], owners: readonly NodeId[]) {
    assert(sortedTokens.length === owners.length, "one owner per token");
    this.sortedTokens = Object.freeze(sortedTokens.slice());
    this.owners = Object.freeze(owners.slice());
    this.size = sortedTokens.length;
    this.approximateTokens = Float64Array.from(this.sortedTokens, (token) => Number(token));

    const ranges: TokenRange[] = [];
    let covered = 0n;
    for (let index = 0; index < this.size; index++) {
      const end = sortedTokens[index] as Token;
      const start = sortedTokens[index === 0 ? this.size - 1 : index - 1] as Token;
      assert(
        index === 0 || start < end,
        () => `tokens out of order at ${index}: ${start} then ${end}`,
      );
      const range: TokenRange = Object.freeze({ start, end, owner: owners[index] as NodeId });
      covered += rangeWidth(range);
      ranges.push(range);
    }
    // The ranges tile the ring: every token lies in exactly one of them (ARCHITECTURE §6.4).
    assert(
      this.size === 0 || covered === TOKEN_SPACE,
      () => `ranges cover ${covered} tokens, not ${TOKEN_SPACE}`,
    );
    this.rangeList = Object.freeze(ranges);
    this.nodeList = Object.freeze([...new Set(owners)].sort(compareNodeIds));
  }

  /** The tokens, ascending. */
  tokens(): readonly Token[] {
    return this.sortedTokens;
  }

  /** The ranges in ring order (ascending `end`); together they cover the ring exactly once. */
  ranges(): readonly TokenRange[] {
    return this.rangeList;
  }

  /** The distinct owners, sorted. */
  nodes(): readonly NodeId[] {
    return this.nodeList;
  }

  /** The tokens one node owns, ascending (empty for a node not on the ring). */
  tokensOf(node: NodeId): Token[] {
    const result: Token[] = [];
    for (let index = 0; index < this.size; index++) {
      if (this.owners[index] === node) result.push(this.sortedTokens[index] as Token);
    }
    return result;
  }

  /**
   * The index in ranges() of the range containing token: the first token at or after it, or the
   * first token of all when it lies past the last one (the wrapping range). The ring must not be
   * empty.
   */
  rangeIndexOf(token: Token): number {
    const tokens = this.sortedTokens;
    const approximations = this.approximateTokens;
    const count = tokens.length;
    if (count === 0) assert(false, "rangeIndexOf on an empty ring");
    // First pass over doubles: comparing bigints costs several times more than comparing doubles.
    // Number() rounds monotonically, so a token whose double is below the query's double is below
    // the query, and one whose double is above it is above it; only equal doubles are undecided.
    const approximation = Number(token);
    // The range check on the double too; only doubles at the very top (TOKEN_MAX rounds up to 2^64)
    // need the exact bigint test.
    if (approximation < 0 || (approximation >= TOKEN_SPACE_APPROXIMATION && !isToken(token))) {
      assert(false, () => `not a 64-bit token: ${token}`);
    }
    let low = 0;
    let high = count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((approximations[middle] as number) < approximation) low = middle + 1;
      else high = middle;
    }
    if (low < count && approximations[low] === approximation) {
      // Tokens within one double's spacing (2^11 near 2^63) of the query: settle it exactly.
      high = count;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((tokens[middle] as Token) < token) low = middle + 1;
        else high = middle;
      }
    }
    return low === count ? 0 : low;
  }

  /** The owner of the range containing token. The ring must not be empty. */
  ownerOf(token: Token): NodeId {
    return this.owners[this.rangeIndexOf(token)] as NodeId;
  }

  /**
   * The fraction of the token space each node owns as primary. The fractions sum to 1, up to
   * floating-point rounding; the empty ring owns nothing and gives an empty map.
   */
  ownership(): Map<NodeId, number> {
    const widths = new Map<NodeId, bigint>();
    for (const range of this.rangeList) {
      widths.set(range.owner, (widths.get(range.owner) ?? 0n) + rangeWidth(range));
    }
    const result = new Map<NodeId, number>();
    for (const node of this.nodeList) {
      result.set(node, Number(widths.get(node) ?? 0n) / Number(TOKEN_SPACE));
    }
    return result;
  }

  /** Same tokens with the same owners. */
  equals(other: TokenMap): boolean {
    if (other === this) return true;
    if (other.size !== this.size) return false;
    for (let index = 0; index < this.size; index++) {
      if (
        other.sortedTokens[index] !== this.sortedTokens[index] ||
        other.owners[index] !== this.owners[index]
      )
        return false;
    }
    return true;
  }

  /**
   * The replica lists `strategy` computes for this ring and replication factor, computed on first
   * use and then shared. The cache holds one entry per (strategy, factor); placement.ts clamps the
   * factor to the number of nodes, so it never holds more than that many entries per strategy.
   */
  replicaLists(strategy: PlacementStrategy, replicationFactor: number): ReplicaLists {
    let byFactor = this.placements.get(strategy);
    if (byFactor === undefined) {
      byFactor = new Map();
      this.placements.set(strategy, byFactor);
    }
    let lists = byFactor.get(replicationFactor);
    if (lists === undefined) {
      lists = strategy(this, replicationFactor);
      assert(
        lists.length === this.size,
        () => `placement gave ${lists?.length} replica lists for ${this.size} ranges`,
      );
      byFactor.set(replicationFactor, lists);
    }
    return lists;
  }
}
