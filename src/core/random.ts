// A seeded source of chance. Pure modules take a Random instead of calling Math.random(), so a
// simulation run is a seed and the same seed replays the same run (ARCHITECTURE §4).
//
// The generator is sfc32 (Chris Doty-Humphrey's small fast chaotic PRNG, from PractRand): 128 bits
// of state, passes PractRand and BigCrush, and needs only 32-bit integer arithmetic, which V8 does
// fast.

export interface Random {
  /** A float uniformly in [0, 1). */
  next(): number;
}

export function createRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const step = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Warm up so that nearby seeds diverge.
  for (let i = 0; i < 15; i++) step();
  return { next: step };
}

/** An integer uniformly in [0, bound). */
export function randomInt(random: Random, bound: number): number {
  return Math.floor(random.next() * bound);
}

/** One element chosen uniformly, or undefined for an empty list. */
export function pickOne<T>(random: Random, items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  return items[randomInt(random, items.length)];
}

/** Up to `count` distinct elements chosen uniformly (partial Fisher-Yates on a copy). */
export function pickSome<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = items.slice();
  const n = Math.min(count, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(random, pool.length - i);
    const chosen = pool[j] as T;
    pool[j] = pool[i] as T;
    pool[i] = chosen;
  }
  return pool.slice(0, n);
}

/** A new seed drawn from a Random, to give a child its own stream. */
export function forkSeed(random: Random): number {
  return Math.floor(random.next() * 0x1_0000_0000) >>> 0;
}
