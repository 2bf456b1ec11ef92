// sim/workload.ts — the client operations of a simulation run, drawn from its seed.
//
// Theory of operation. Each call to next(worker) draws one operation: a key (from the hot set with
// probability hotShare, so writes collide, else from the large cold set; both include awkward
// keys, workload-keys.ts), a kind (put, get or delete, by weight), a consistency level (one,
// quorum, all, or sometimes a number 1..rf) and, for a put, a value. Values are what the history
// checker (history/checker.ts) traces reads by, so each is unique within its key: it starts with
// its worker and that worker's sequence number and is padded to its drawn size with printable
// ASCII. Sizes are skewed like real traffic — mostly small, some exactly valueBytesMax, some
// empty; the empty value cannot carry a tag, so a key gets it at most once in a run (later empty
// draws become the shortest tagged value). A share of puts carries a time to live (issue 17 §3):
// most of them a few seconds, so values expire within a run and the judge sees reads on both sides
// of an expiry, the rest an hour, so they outlive it. Pure: all chance comes from the injected
// Randoms (the time to live from its own stream, so adding it left every other draw of a seed as it
// was), so the same seed and the same order of next() calls replay the same operations.

import { assert } from "../core/assert.js";
import { randomInt, type Random } from "../core/random.js";
import { buildKeySet } from "./workload-keys.js";

export type WorkloadKind = "put" | "get" | "delete";
/** A consistency level as the coordinator takes it (replication/consistency.ts). */
export type WorkloadLevel = "one" | "quorum" | "all" | number;

export interface WorkloadOp {
  readonly kind: WorkloadKind;
  readonly key: string;
  readonly level: WorkloadLevel;
  /** A put's value; absent for get and delete. */
  readonly value?: string;
  /** A put's time to live, seconds (WriteRequest.ttlSeconds); absent: it never expires. */
  readonly ttlSeconds?: number;
}

/** Relative weights; they need not sum to 1. */
type Weights<K extends string> = Readonly<Record<K, number>>;

export interface WorkloadOptions {
  /** Keys every worker keeps hitting, so concurrent writes collide. */
  readonly hotKeys: number;
  /** The large key set, so ranges and repairs carry real data. */
  readonly coldKeys: number;
  /** The share of operations on a hot key, 0..1. */
  readonly hotShare: number;
  /** The share of each key set replaced by awkward keys (one byte, longest, unicode, …), 0..1. */
  readonly awkwardKeyShare: number;
  readonly kinds: Weights<WorkloadKind>;
  /** "number" is a level drawn uniformly from 1..replicationFactor. */
  readonly levels: Weights<"one" | "quorum" | "all" | "number">;
  readonly replicationFactor: number;
  /** The largest value drawn; at least VALUE_TAG_BYTES_MAX so the longest tag fits. */
  readonly valueBytesMax: number;
  /** The share of puts with an empty value, and with exactly valueBytesMax bytes. */
  readonly emptyValueShare: number;
  readonly maxValueShare: number;
  /** The share of puts with a time to live, 0..1, and the share of those that is short. */
  readonly ttlShare: number;
  readonly shortTtlShare: number;
  /** A short time to live is 1..shortTtlSecondsMax seconds: it expires within a run. */
  readonly shortTtlSecondsMax: number;
  /** A long one, seconds: it outlives a run. */
  readonly longTtlSeconds: number;
}

export const WORKLOAD_DEFAULTS: WorkloadOptions = {
  hotKeys: 8,
  coldKeys: 10_000,
  hotShare: 0.5,
  awkwardKeyShare: 0.01,
  kinds: { put: 0.45, get: 0.45, delete: 0.1 },
  levels: { one: 0.15, quorum: 0.6, all: 0.1, number: 0.15 },
  replicationFactor: 3,
  valueBytesMax: 4096,
  emptyValueShare: 0.03,
  maxValueShare: 0.03,
  ttlShare: 0.2,
  shortTtlShare: 0.7,
  shortTtlSecondsMax: 6,
  longTtlSeconds: 3_600,
};

/** The longest tag a value starts with: `w<worker>#<sequence>|`, both safe integers. */
export const VALUE_TAG_BYTES_MAX = 40;
/** Mostly small: a size in between is valueBytesMax × u^SIZE_SKEW for a uniform u. */
const SIZE_SKEW = 4;
/** Padding characters: printable ASCII, so a value is valid as bytes and readable when printed. */
const PAD = "abcdefghijklmnopqrstuvwxyz0123456789";

function pickWeighted<K extends string>(random: Random, weights: Weights<K>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let point = random.next() * total;
  for (const [name, weight] of entries) {
    point -= weight;
    if (point < 0) return name;
  }
  return (entries.find(([, weight]) => weight > 0) as [K, number])[0];
}

function checkOptions(options: WorkloadOptions): void {
  const share = (value: number): boolean => value >= 0 && value <= 1;
  assert(share(options.hotShare) && share(options.awkwardKeyShare), "shares are 0..1");
  assert(share(options.emptyValueShare + options.maxValueShare), "value size shares are 0..1");
  assert(share(options.ttlShare) && share(options.shortTtlShare), "ttl shares are 0..1");
  const seconds = [options.shortTtlSecondsMax, options.longTtlSeconds];
  assert(
    seconds.every((s) => Number.isSafeInteger(s) && s >= 1),
    "ttl seconds are integers ≥ 1",
  );
  for (const weights of [options.kinds, options.levels]) {
    const values = Object.values(weights);
    assert(values.every((w) => w >= 0) && values.some((w) => w > 0), "weights are ≥ 0, one > 0");
  }
  assert(Number.isInteger(options.replicationFactor) && options.replicationFactor >= 1, "rf ≥ 1");
  assert(options.valueBytesMax >= VALUE_TAG_BYTES_MAX, `valueBytesMax ≥ ${VALUE_TAG_BYTES_MAX}`);
}

export class WorkloadGenerator {
  readonly #random: Random;
  readonly #ttlRandom: Random;
  readonly #options: WorkloadOptions;
  readonly #hot: readonly string[];
  readonly #cold: readonly string[];
  readonly #sequence = new Map<number, number>();
  /** Keys that were already given the empty value (it can be traced only once per key). */
  readonly #emptied = new Set<string>();

  /** `ttlRandom` draws the puts' times to live; by default `random` does. */
  constructor(random: Random, options: Partial<WorkloadOptions> = {}, ttlRandom: Random = random) {
    this.#random = random;
    this.#ttlRandom = ttlRandom;
    this.#options = { ...WORKLOAD_DEFAULTS, ...options };
    checkOptions(this.#options);
    const taken = new Set<string>();
    const { hotKeys, coldKeys, awkwardKeyShare } = this.#options;
    this.#hot = buildKeySet(random, "hot:", hotKeys, awkwardKeyShare, taken);
    this.#cold = buildKeySet(random, "cold:", coldKeys, awkwardKeyShare, taken);
  }

  /** Every key this workload may use: the hot set, then the cold set. */
  keys(): { readonly hot: readonly string[]; readonly cold: readonly string[] } {
    return { hot: this.#hot, cold: this.#cold };
  }

  /** The next operation of `worker` (a non-negative integer; one worker, one sequence). */
  next(worker: number): WorkloadOp {
    const valid = Number.isSafeInteger(worker) && worker >= 0;
    assert(valid, `a worker is an integer ≥ 0, not ${worker}`);
    const random = this.#random;
    const hot = random.next() < this.#options.hotShare;
    const set = hot ? this.#hot : this.#cold;
    const key = set[randomInt(random, set.length)] as string;
    const kind = pickWeighted(random, this.#options.kinds);
    const level = this.#level();
    if (kind !== "put") return { kind, key, level };
    const value = this.#value(worker, key);
    const ttlSeconds = this.#ttlSeconds();
    return ttlSeconds === undefined
      ? { kind, key, level, value }
      : { kind, key, level, value, ttlSeconds };
  }

  #ttlSeconds(): number | undefined {
    const random = this.#ttlRandom;
    const { ttlShare, shortTtlShare, shortTtlSecondsMax, longTtlSeconds } = this.#options;
    if (random.next() >= ttlShare) return undefined;
    if (random.next() >= shortTtlShare) return longTtlSeconds;
    return 1 + randomInt(random, shortTtlSecondsMax);
  }

  #level(): WorkloadLevel {
    const drawn = pickWeighted(this.#random, this.#options.levels);
    if (drawn !== "number") return drawn;
    return 1 + randomInt(this.#random, this.#options.replicationFactor);
  }

  #value(worker: number, key: string): string {
    const sequence = (this.#sequence.get(worker) ?? 0) + 1;
    this.#sequence.set(worker, sequence);
    const { valueBytesMax, emptyValueShare, maxValueShare } = this.#options;
    const draw = this.#random.next();
    if (draw < emptyValueShare && !this.#emptied.has(key)) {
      this.#emptied.add(key);
      return "";
    }
    const tag = `w${worker}#${sequence}|`;
    const skewed = Math.floor(valueBytesMax * this.#random.next() ** SIZE_SKEW);
    const atMax = draw >= emptyValueShare && draw < emptyValueShare + maxValueShare;
    const size = Math.max(tag.length, atMax ? valueBytesMax : skewed);
    const padding = PAD.repeat(Math.ceil((size - tag.length) / PAD.length));
    return (tag + padding).slice(0, size);
  }
}
