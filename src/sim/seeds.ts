// sim/seeds.ts — how one run seed becomes many independent random streams.
//
// Theory of operation. A simulation run is one 32-bit seed. Drawing every child seed from one
// sequential stream would make each stream depend on how many were drawn before it: adding a node
// would shift every later node's tokens and every message's fate. Instead a child seed is a hash of
// (parent seed, a stable name), here the node's index or id, so a stream depends only on its own
// name. The mixer is MurmurHash3's 32-bit finalizer (Appleby), which spreads one changed input bit
// across the whole output; names are hashed with FNV-1a (Fowler, Noll, Vo).

import { fmix32 } from "../core/hash.js";

/** FNV-1a over the UTF-16 code units of `text`, 32 bits. */
export function hashName(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A child seed of `seed` named by `salt`; distinct salts give unrelated streams. */
export function childSeed(seed: number, salt: number | string): number {
  const saltHash = typeof salt === "string" ? hashName(salt) : fmix32(salt >>> 0);
  return fmix32((fmix32(seed >>> 0) ^ Math.imul(saltHash, 0x9e3779b1)) >>> 0);
}
