import { describe, it, expect } from "vitest";
import { createRandom } from "../../../src/core/random.js";
import {
  choosePeers,
  pickRumorTargets,
  type PeerCandidates,
} from "../../../src/gossip/peer-selection.js";

// Frequencies over DRAWS seeded draws; TOLERANCE is more than 6 standard deviations of a proportion
// near 0.5 (sqrt(0.25 / 20000) ≈ 0.0035), so a correct rule never fails and a wrong one (off by ≥
// 0.05) does.
const DRAWS = 20_000;
const TOLERANCE = 0.025;
const SEED = 7;

function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

function frequency(
  candidates: PeerCandidates,
  pick: (c: ReturnType<typeof choosePeers>) => boolean,
): number {
  const random = createRandom(SEED);
  let hits = 0;
  for (let i = 0; i < DRAWS; i++) if (pick(choosePeers(candidates, random))) hits += 1;
  return hits / DRAWS;
}

const noSeedIds = (): undefined => undefined;

describe("choosePeers", () => {
  it("always gossips to one live member when there is one, chosen uniformly", () => {
    const live = ids("live", 4);
    const random = createRandom(SEED);
    const counts = new Map<string, number>();
    for (let i = 0; i < DRAWS; i++) {
      const choice = choosePeers({ live, unreachable: [], seeds: [], seedId: noSeedIds }, random);
      const id = choice.live ?? "none";
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.get("none")).toBeUndefined();
    for (const id of live)
      expect(Math.abs((counts.get(id) ?? 0) / DRAWS - 0.25)).toBeLessThan(TOLERANCE);
  });

  it("chooses nobody when it knows nobody and has no seeds", () => {
    const choice = choosePeers(
      { live: [], unreachable: [], seeds: [], seedId: noSeedIds },
      createRandom(SEED),
    );
    expect(choice).toEqual({ live: null, unreachable: null, seed: null });
  });

  it("gossips to an unreachable member with probability unreachable / (live + 1)", () => {
    const p = frequency(
      { live: ids("live", 3), unreachable: ids("dead", 1), seeds: [], seedId: noSeedIds },
      (c) => c.unreachable !== null,
    );
    expect(Math.abs(p - 1 / 4)).toBeLessThan(TOLERANCE);
    const q = frequency(
      { live: ids("live", 2), unreachable: ids("dead", 2), seeds: [], seedId: noSeedIds },
      (c) => c.unreachable !== null,
    );
    expect(Math.abs(q - 2 / 3)).toBeLessThan(TOLERANCE);
  });

  it("always tries an unreachable member when none is live", () => {
    expect(
      frequency(
        { live: [], unreachable: ids("dead", 3), seeds: [], seedId: noSeedIds },
        (c) => c.unreachable !== null,
      ),
    ).toBe(1);
  });

  it("always gossips to a seed when no member is live", () => {
    const seeds = ["s0:7001", "s1:7001"];
    const p = frequency(
      { live: [], unreachable: ids("dead", 5), seeds, seedId: noSeedIds },
      (c) => c.seed !== null,
    );
    expect(p).toBe(1);
  });

  it("after a non-seed live member, adds a seed with probability seeds / (live + unreachable)", () => {
    const seeds = ["s0:7001", "s1:7001"];
    const p = frequency(
      { live: ids("live", 7), unreachable: ids("dead", 1), seeds, seedId: noSeedIds },
      (c) => c.seed !== null,
    );
    expect(Math.abs(p - 2 / 8)).toBeLessThan(TOLERANCE);
  });

  it("adds no seed when the live member chosen is a seed and at least as many members as seeds are live", () => {
    const seedIds = new Map([["s0:7001", "s0"]]);
    const p = frequency(
      {
        live: ["s0"],
        unreachable: ids("dead", 3),
        seeds: ["s0:7001"],
        seedId: (a) => seedIds.get(a),
      },
      (c) => c.seed !== null,
    );
    expect(p).toBe(0);
  });

  it("when fewer members are live than there are seeds, may add a seed other than the live one", () => {
    const seedIds = new Map([
      ["s0:7001", "s0"],
      ["s1:7001", "s1"],
      ["s2:7001", "s2"],
    ]);
    const candidates = {
      live: ["s0", "s1"],
      unreachable: ["s2"],
      seeds: [...seedIds.keys()],
      seedId: (a: string) => seedIds.get(a),
    };
    const random = createRandom(SEED);
    let withSeed = 0;
    let sameAsLive = 0;
    let wrongId = 0;
    for (let i = 0; i < DRAWS; i++) {
      const choice = choosePeers(candidates, random);
      if (choice.seed === null) continue;
      withSeed += 1;
      if (choice.seed.id === choice.live) sameAsLive += 1;
      if (choice.seed.id !== seedIds.get(choice.seed.address)) wrongId += 1;
    }
    // seeds / (live + unreachable) = 3 / 3: always.
    expect(withSeed / DRAWS).toBe(1);
    expect(sameAsLive).toBe(0);
    expect(wrongId).toBe(0);
  });

  it("names a seed whose id is not yet known by address only", () => {
    const choice = choosePeers(
      { live: [], unreachable: [], seeds: ["s0:7001"], seedId: noSeedIds },
      createRandom(SEED),
    );
    expect(choice.seed).toEqual({ address: "s0:7001", id: null });
  });
});

describe("pickRumorTargets", () => {
  it("picks the requested number of distinct eligible members", () => {
    const members = ids("m", 50);
    const random = createRandom(SEED);
    for (let i = 0; i < 200; i++) {
      const targets = pickRumorTargets(
        { members, count: 4, eligible: (id) => id !== "m0" && id !== "m1" },
        random,
      );
      expect(targets).toHaveLength(4);
      expect(new Set(targets).size).toBe(4);
      expect(targets).not.toContain("m0");
      expect(targets).not.toContain("m1");
    }
  });

  it("finds the few eligible members by a scan when random draws miss them", () => {
    const members = ids("m", 1000);
    const targets = pickRumorTargets(
      { members, count: 4, eligible: (id) => id === "m500" || id === "m999" },
      createRandom(SEED),
    );
    expect(targets.sort()).toEqual(["m500", "m999"]);
  });

  it("gives every eligible member about the same chance", () => {
    const members = ids("m", 10);
    const random = createRandom(SEED);
    const counts = new Map<string, number>();
    for (let i = 0; i < DRAWS; i++) {
      for (const id of pickRumorTargets({ members, count: 2, eligible: () => true }, random))
        counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of members)
      expect(Math.abs((counts.get(id) ?? 0) / DRAWS - 0.2)).toBeLessThan(TOLERANCE);
  });

  it("returns nobody for a fanout of zero or an empty membership", () => {
    expect(
      pickRumorTargets(
        { members: ids("m", 5), count: 0, eligible: () => true },
        createRandom(SEED),
      ),
    ).toEqual([]);
    expect(
      pickRumorTargets({ members: [], count: 3, eligible: () => true }, createRandom(SEED)),
    ).toEqual([]);
  });
});
