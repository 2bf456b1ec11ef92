// The simulator's workload (src/sim/workload.ts, src/sim/workload-keys.ts): the same seed draws
// the same operations; keys are valid, distinct and include awkward ones; values are unique per
// key, printable and within bounds; the mix of keys, kinds, levels and sizes is roughly as asked;
// a share of puts carries a time to live, short or long, drawn from its own stream.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createRandom } from "../../../src/core/random.js";
import { BUCKET_KEY_LIMITS } from "../../../src/storage/bucket-keys.js";
import { KEY_BYTES_MAX, isValidKey } from "../../../src/sim/workload-keys.js";
import {
  VALUE_TAG_BYTES_MAX,
  WorkloadGenerator,
  type WorkloadOp,
} from "../../../src/sim/workload.js";

const PROPERTY_SEED = 20_261_204;

function run(seed: number, count: number, options = {}): WorkloadOp[] {
  const generator = new WorkloadGenerator(createRandom(seed), options);
  return Array.from({ length: count }, (_, i) => generator.next(i % 4));
}

const bytes = (text: string): number => Buffer.byteLength(text, "utf8");

describe("WorkloadGenerator", () => {
  it("draws the same operations from the same seed, and others from another", () => {
    expect(run(7, 500)).toEqual(run(7, 500));
    expect(run(7, 500)).not.toEqual(run(8, 500));
  });

  it("agrees with the store on the largest key", () => {
    expect(KEY_BYTES_MAX).toBe(BUCKET_KEY_LIMITS.userKeyBytesMax);
  });

  it("builds distinct valid key sets with awkward keys of every kind", () => {
    const generator = new WorkloadGenerator(createRandom(3), {
      hotKeys: 8,
      coldKeys: 10_000,
      awkwardKeyShare: 0.01,
    });
    const { hot, cold } = generator.keys();
    expect(hot).toHaveLength(8);
    expect(cold).toHaveLength(10_000);
    const all = [...hot, ...cold];
    expect(new Set(all).size).toBe(all.length);
    expect(all.every(isValidKey)).toBe(true);
    expect(all.some((key) => bytes(key) === 1)).toBe(true);
    expect(all.filter((key) => bytes(key) === KEY_BYTES_MAX).length).toBeGreaterThanOrEqual(2);
    expect(all.some((key) => bytes(key) === KEY_BYTES_MAX && key.length < KEY_BYTES_MAX)).toBe(
      true,
    );
    expect(all.some((key) => key.includes(" "))).toBe(true);
    expect(all.some((key) => /[^\x00-\x7f]/.test(key) && bytes(key) < KEY_BYTES_MAX)).toBe(true);
    expect(all.some((key) => /[/?#%]/.test(key))).toBe(true);
    expect(all.filter((key) => !/^(hot|cold):\d+$/.test(key)).length).toBeGreaterThanOrEqual(90);
  });

  it("keeps every operation in bounds, and each value unique within its key, for any seed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: VALUE_TAG_BYTES_MAX, max: 2_000 }),
        (seed, valueBytesMax) => {
          const ops = run(seed, 400, {
            valueBytesMax,
            hotKeys: 4,
            coldKeys: 50,
            awkwardKeyShare: 0.2,
            emptyValueShare: 0.2,
          });
          const seen = new Set<string>();
          for (const op of ops) {
            expect(isValidKey(op.key)).toBe(true);
            if (typeof op.level === "number") expect(op.level >= 1 && op.level <= 3).toBe(true);
            else expect(["one", "quorum", "all"]).toContain(op.level);
            if (op.kind !== "put") {
              expect(op.value).toBeUndefined();
              continue;
            }
            const value = op.value!;
            expect(value.length).toBeLessThanOrEqual(valueBytesMax);
            expect(/^[\x20-\x7e]*$/.test(value)).toBe(true);
            if (value.length > 0) expect(value).toMatch(/^w\d+#\d+\|/);
            const id = JSON.stringify([op.key, value]);
            expect(seen.has(id)).toBe(false);
            seen.add(id);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 50 },
    );
  });

  it("draws keys, kinds, levels and sizes roughly as asked", () => {
    const options = {
      hotKeys: 8,
      coldKeys: 10_000,
      hotShare: 0.3,
      kinds: { put: 0.6, get: 0.3, delete: 0.1 },
      levels: { one: 0.25, quorum: 0.25, all: 0.25, number: 0.25 },
      valueBytesMax: 1_000,
      emptyValueShare: 0.05,
      maxValueShare: 0.05,
    };
    const generator = new WorkloadGenerator(createRandom(11), options);
    const hot = new Set(generator.keys().hot);
    const ops = Array.from({ length: 20_000 }, (_, i) => generator.next(i % 8));
    const share = (predicate: (op: WorkloadOp) => boolean, among = ops): number =>
      among.filter(predicate).length / among.length;
    expect(share((op) => hot.has(op.key))).toBeCloseTo(0.3, 1);
    expect(share((op) => op.kind === "put")).toBeCloseTo(0.6, 1);
    expect(share((op) => op.kind === "delete")).toBeCloseTo(0.1, 1);
    expect(share((op) => typeof op.level === "number")).toBeCloseTo(0.25, 1);
    expect(share((op) => op.level === "quorum")).toBeCloseTo(0.25, 1);
    const puts = ops.filter((op) => op.kind === "put");
    expect(share((op) => op.value!.length === 1_000, puts)).toBeCloseTo(0.05, 1);
    expect(share((op) => op.value!.length === 0, puts)).toBeGreaterThan(0.01);
    expect(share((op) => op.value!.length < 100, puts)).toBeGreaterThan(0.5);
    expect(new Set(ops.filter((op) => typeof op.level === "number").map((op) => op.level))).toEqual(
      new Set([1, 2, 3]),
    );
  });

  it("gives a share of puts a time to live, mostly short, from its own stream", () => {
    const options = { ttlShare: 0.4, shortTtlShare: 0.75, shortTtlSecondsMax: 5 };
    const draw = (ttlSeed: number, extra = {}): WorkloadOp[] => {
      const generator = new WorkloadGenerator(
        createRandom(5),
        { ...options, ...extra },
        createRandom(ttlSeed),
      );
      return Array.from({ length: 10_000 }, (_, i) => generator.next(i % 4));
    };
    const ops = draw(6);
    expect(draw(6)).toEqual(ops);
    const puts = ops.filter((op) => op.kind === "put");
    expect(ops.every((op) => op.kind === "put" || op.ttlSeconds === undefined)).toBe(true);
    const timed = puts.filter((op) => op.ttlSeconds !== undefined);
    expect(timed.length / puts.length).toBeCloseTo(0.4, 1);
    const short = timed.filter((op) => op.ttlSeconds! <= 5);
    expect(short.length / timed.length).toBeCloseTo(0.75, 1);
    expect(new Set(short.map((op) => op.ttlSeconds))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(new Set(timed.filter((op) => op.ttlSeconds! > 5).map((op) => op.ttlSeconds))).toEqual(
      new Set([3_600]),
    );
    // The other draws do not depend on the time to live's stream, nor on whether it is drawn.
    const bare = ({ ttlSeconds: _ttl, ...op }: WorkloadOp): WorkloadOp => op;
    expect(draw(7).map(bare)).toEqual(ops.map(bare));
    expect(draw(6, { ttlShare: 0 })).toEqual(ops.map(bare));
  });
});
