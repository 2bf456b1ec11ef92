// gossip/peer-selection.ts — whom a gossip round talks to, and whom a rumor is pushed to.
//
// Theory of operation. The rules are Cassandra's Gossiper.run():
//   1. one live member, chosen uniformly;
//   2. one unreachable member, with probability unreachable / (live + 1), so a member that comes
//      back is noticed without flooding the dead when many are down;
//   3. a seed, when the live member chosen was not a seed or fewer members are live than there are
//      seeds (maybeGossipToSeed): always when none is live (how a node joins or heals a partition),
//      and otherwise with probability seeds / (live + unreachable), so that in a 1,000-node cluster
//      the seeds are not hit by every node every round.
// Seeds are addresses: a seed whose id this node has not yet learned is still reachable by address.
// A seed that is the live member already chosen is not chosen twice. Rumor targets are a few live
// members chosen uniformly without replacement; they are drawn by rejection from the whole
// membership so that a rumor costs O(fanout), not O(members), in the common case where most members
// are live.

import type { Address, NodeId } from "../core/ids.js";
import { pickOne, pickSome, randomInt, type Random } from "../core/random.js";

export interface PeerCandidates {
  /** Live members other than this node. */
  readonly live: readonly NodeId[];
  /** Known members other than this node that are judged down. */
  readonly unreachable: readonly NodeId[];
  /** Seed addresses other than this node's own. */
  readonly seeds: readonly Address[];
  /** The id of the member at a seed address, when this node knows it. */
  readonly seedId: (seed: Address) => NodeId | undefined;
}

export interface SeedChoice {
  readonly address: Address;
  readonly id: NodeId | null;
}

export interface PeerChoice {
  readonly live: NodeId | null;
  readonly unreachable: NodeId | null;
  readonly seed: SeedChoice | null;
}

export function choosePeers(candidates: PeerCandidates, random: Random): PeerChoice {
  const { live, unreachable, seeds } = candidates;
  const liveChoice = pickOne(random, live) ?? null;

  let unreachableChoice: NodeId | null = null;
  if (unreachable.length > 0 && random.next() < unreachable.length / (live.length + 1)) {
    unreachableChoice = pickOne(random, unreachable) ?? null;
  }

  let seedChoice: SeedChoice | null = null;
  if (seeds.length > 0) {
    const liveIsSeed =
      liveChoice !== null && seeds.some((seed) => candidates.seedId(seed) === liveChoice);
    if (!liveIsSeed || live.length < seeds.length) {
      const probability = live.length === 0 ? 1 : seeds.length / (live.length + unreachable.length);
      if (live.length === 0 || random.next() < probability) {
        const others = liveIsSeed
          ? seeds.filter((seed) => candidates.seedId(seed) !== liveChoice)
          : seeds;
        const address = pickOne(random, others);
        if (address !== undefined) seedChoice = { address, id: candidates.seedId(address) ?? null };
      }
    }
  }
  return { live: liveChoice, unreachable: unreachableChoice, seed: seedChoice };
}

/** Draws beyond `count` tried at random before falling back to a scan of every member. */
export const RUMOR_TARGET_DRAWS_PER_TARGET = 4;

export interface RumorTargetOptions {
  /** Every known member (any order); the draw skips those `eligible` refuses. */
  readonly members: readonly NodeId[];
  readonly count: number;
  readonly eligible: (id: NodeId) => boolean;
}

/** Up to `count` distinct eligible members, chosen uniformly. */
export function pickRumorTargets(options: RumorTargetOptions, random: Random): NodeId[] {
  const { members, count, eligible } = options;
  if (count <= 0 || members.length === 0) return [];
  const chosen = new Set<NodeId>();
  const draws = count * RUMOR_TARGET_DRAWS_PER_TARGET;
  for (let i = 0; i < draws && chosen.size < count; i++) {
    const id = members[randomInt(random, members.length)];
    if (id !== undefined && !chosen.has(id) && eligible(id)) chosen.add(id);
  }
  if (chosen.size < count) {
    // Few members are eligible: a scan finds them all, then the rest is drawn uniformly among them.
    const rest = members.filter((id) => !chosen.has(id) && eligible(id));
    for (const id of pickSome(random, rest, count - chosen.size)) chosen.add(id);
  }
  return [...chosen];
}
