// core/hash.ts — small non-cryptographic hash pieces the pure cores share (gossip summaries, the
// monitor ring, the simulator's seed streams). None needs to resist an adversary; all must give the
// same value on every node and platform, so they are pure 32-bit integer arithmetic.

/**
 * MurmurHash3's 32-bit finalizer (Appleby): a bijective avalanche, every input bit moves every
 * output bit.
 */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
