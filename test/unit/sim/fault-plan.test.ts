// The simulator's fault plan (src/sim/fault-plan.ts and its fault-state.ts, fault-draws.ts): the
// same seed plans the same faults; over many seeds and options every plan keeps its rules, checked
// here by a replay independent of the planner's own state; offsets, gaps and ring changes are
// drawn as asked; describeFault prints one readable line.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createRandom } from "../../../src/core/random.js";
import {
  describeFault,
  FAULT_DRAW_LIMITS,
  FAULT_KINDS,
  planFaults,
  type Fault,
  type FaultKind,
  type FaultPlanOptions,
  type PlannedFault,
} from "../../../src/sim/fault-plan.js";
import { RING_CHANGE_LIMITS } from "../../../src/sim/ring-changes.js";

const PROPERTY_SEED = 20_261_204;
const RUNS = 200;

const BASE: FaultPlanOptions = {
  nodes: ["n1", "n2", "n3", "n4", "n5"],
  spareNodes: ["n6", "n7"],
  replicationFactor: 3,
  durationMs: 180_000,
  healAtMs: 150_000,
  meanGapMs: 1_000,
  maxDownAtOnce: 2,
  maxClockOffsetMs: 500,
  kinds: new Set(FAULT_KINDS),
};

const plan = (seed: number, options: Partial<FaultPlanOptions> = {}): PlannedFault[] =>
  planFaults(createRandom(seed), { ...BASE, ...options });

/** What a replay of the plan has left in force; the test's own model, not the planner's. */
interface Model {
  readonly members: Set<string>;
  readonly spares: Set<string>;
  readonly gone: Set<string>;
  readonly down: Map<string, "dead" | "paused">;
  partitioned: boolean;
  readonly cuts: Set<string>;
  loss: number;
  duplication: number;
  readonly clock: Map<string, number>;
  readonly diskFull: Set<string>;
  readonly slowDisk: Map<string, number>;
  lastRingAtMs: number;
}

function nodesOf(fault: Fault): string[] {
  if ("node" in fault) return [fault.node];
  if ("from" in fault) return [fault.from, fault.to];
  return [];
}

/** Applies one fault to the model, throwing (via expect) when it breaks a rule. */
function step(model: Model, { atMs, fault }: PlannedFault, options: FaultPlanOptions): void {
  const exempt = ["restart", "resume", "removenode", "bootstrap"].includes(fault.kind);
  for (const node of nodesOf(fault)) {
    const member = model.members.has(node);
    if (fault.kind !== "bootstrap") expect(member, describeFault(fault)).toBe(true);
    if (!exempt) expect(model.down.has(node), `${describeFault(fault)} on a down node`).toBe(false);
  }
  const leaving = fault.kind === "decommission" || fault.kind === "removenode";
  if (fault.kind === "bootstrap" || leaving) {
    expect(atMs - model.lastRingAtMs).toBeGreaterThanOrEqual(FAULT_DRAW_LIMITS.ringChangeGapMs);
    expect(atMs + FAULT_DRAW_LIMITS.ringChangeBeforeHealMs).toBeLessThanOrEqual(options.healAtMs);
    model.lastRingAtMs = atMs;
  }
  if (leaving) expect(model.members.size).toBeGreaterThanOrEqual(options.replicationFactor + 1);
  switch (fault.kind) {
    case "kill":
    case "power-loss":
    case "pause":
      model.down.set(fault.node, fault.kind === "pause" ? "paused" : "dead");
      expect(model.down.size).toBeLessThanOrEqual(options.maxDownAtOnce);
      return;
    case "restart":
    case "resume":
      expect(model.down.get(fault.node)).toBe(fault.kind === "restart" ? "dead" : "paused");
      model.down.delete(fault.node);
      return;
    case "bootstrap":
      expect(model.spares.has(fault.node) && !model.members.has(fault.node)).toBe(true);
      expect(model.gone.has(fault.node)).toBe(false);
      model.members.add(fault.node);
      return;
    case "removenode":
      expect(model.down.get(fault.node)).toBe("dead");
      model.down.delete(fault.node);
      model.members.delete(fault.node);
      model.gone.add(fault.node);
      return;
    case "decommission":
      model.members.delete(fault.node);
      model.gone.add(fault.node);
      return;
    default:
      stepOther(model, fault);
  }
}

function stepOther(model: Model, fault: Fault): void {
  switch (fault.kind) {
    case "partition": {
      expect(model.partitioned).toBe(false);
      const listed = fault.groups.flat();
      expect(new Set(listed).size).toBe(listed.length);
      expect(fault.groups.length).toBeGreaterThanOrEqual(2);
      expect(fault.groups.every((group) => group.length > 0)).toBe(true);
      expect(listed.every((node) => model.members.has(node))).toBe(true);
      model.partitioned = true;
      return;
    }
    case "heal":
      expect(model.partitioned).toBe(true);
      model.partitioned = false;
      return;
    case "cut":
      expect(fault.from).not.toBe(fault.to);
      model.cuts.add(`${fault.from}>${fault.to}`);
      return;
    case "restore":
      expect(model.cuts.delete(`${fault.from}>${fault.to}`)).toBe(true);
      return;
    case "loss":
    case "duplication":
      expect(fault.probability).toBeGreaterThanOrEqual(0);
      expect(fault.probability).toBeLessThanOrEqual(1);
      model[fault.kind] = fault.probability;
      return;
    case "clock-offset":
      model.clock.set(fault.node, fault.offsetMs);
      return;
    case "disk-full":
      if (fault.full) model.diskFull.add(fault.node);
      else model.diskFull.delete(fault.node);
      return;
    case "slow-disk":
      expect(fault.delayMs).toBeGreaterThanOrEqual(0);
      model.slowDisk.set(fault.node, fault.delayMs);
      return;
    default:
      throw new Error(`unexpected ${describeFault(fault)}`);
  }
}

function checkPlan(faults: readonly PlannedFault[], options: FaultPlanOptions): Model {
  const model: Model = {
    members: new Set(options.nodes),
    spares: new Set(options.spareNodes ?? []),
    gone: new Set(),
    down: new Map(),
    partitioned: false,
    cuts: new Set(),
    loss: 0,
    duplication: 0,
    clock: new Map(),
    diskFull: new Set(),
    slowDisk: new Map(),
    lastRingAtMs: Number.NEGATIVE_INFINITY,
  };
  let previous = 0;
  for (const planned of faults) {
    expect(planned.atMs).toBeGreaterThan(0);
    expect(planned.atMs).toBeLessThan(options.healAtMs);
    expect(planned.atMs).toBeGreaterThanOrEqual(previous);
    previous = planned.atMs;
    step(model, planned, options);
  }
  expect(model.down.size).toBe(0);
  expect(model.partitioned).toBe(false);
  expect(model.cuts.size).toBe(0);
  expect([model.loss, model.duplication]).toEqual([0, 0]);
  expect([...model.clock.values()].every((offset) => offset === 0)).toBe(true);
  expect(model.diskFull.size).toBe(0);
  expect([...model.slowDisk.values()].every((delay) => delay === 0)).toBe(true);
  return model;
}

const nodeIds = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);

const optionsArbitrary: fc.Arbitrary<FaultPlanOptions> = fc
  .record({
    nodes: fc.integer({ min: 1, max: 7 }),
    spares: fc.integer({ min: 0, max: 3 }),
    replicationFactor: fc.integer({ min: 1, max: 3 }),
    healAtMs: fc.integer({ min: 100, max: 200_000 }),
    extraMs: fc.integer({ min: 0, max: 30_000 }),
    meanGapMs: fc.integer({ min: 200, max: 5_000 }),
    maxDownAtOnce: fc.integer({ min: 0, max: 3 }),
    maxClockOffsetMs: fc.integer({ min: 0, max: 2_000 }),
    kinds: fc.subarray([...FAULT_KINDS]),
  })
  .map((drawn) => ({
    nodes: nodeIds("n", drawn.nodes),
    spareNodes: nodeIds("s", drawn.spares),
    replicationFactor: drawn.replicationFactor,
    durationMs: drawn.healAtMs + drawn.extraMs,
    healAtMs: drawn.healAtMs,
    meanGapMs: drawn.meanGapMs,
    maxDownAtOnce: drawn.maxDownAtOnce,
    maxClockOffsetMs: drawn.maxClockOffsetMs,
    kinds: new Set<FaultKind>(drawn.kinds),
  }));

describe("planFaults", () => {
  it("plans the same faults from the same seed, and others from another", () => {
    expect(plan(7)).toEqual(plan(7));
    expect(plan(7)).not.toEqual(plan(8));
    expect(plan(7).length).toBeGreaterThan(50);
  });

  it("keeps every rule over many seeds and options", () => {
    fc.assert(
      fc.property(fc.integer(), optionsArbitrary, (seed, options) => {
        const faults = planFaults(createRandom(seed), options);
        checkPlan(faults, options);
        expect(planFaults(createRandom(seed), options)).toEqual(faults);
      }),
      { seed: PROPERTY_SEED, numRuns: RUNS },
    );
  });

  it("plans only faults of the enabled families", () => {
    const family: Record<Fault["kind"], FaultKind> = {
      kill: "crash",
      "power-loss": "crash",
      restart: "crash",
      pause: "pause",
      resume: "pause",
      partition: "partition",
      heal: "partition",
      cut: "cut",
      restore: "cut",
      loss: "loss",
      duplication: "duplication",
      "clock-offset": "clock",
      "disk-full": "disk",
      "slow-disk": "disk",
      bootstrap: "ring",
      decommission: "ring",
      removenode: "ring",
    };
    for (const kind of FAULT_KINDS) {
      const faults = plan(11, { kinds: new Set([kind]) });
      expect(faults.length).toBeGreaterThan(0);
      expect(faults.every(({ fault }) => family[fault.kind] === kind)).toBe(true);
    }
    expect(plan(11, { kinds: new Set() })).toEqual([]);
  });

  it("draws every kind of fault across seeds, ring changes included", () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      for (const { fault } of plan(seed)) seen.add(fault.kind);
    }
    const all: Fault["kind"][] = [
      "kill",
      "power-loss",
      "restart",
      "pause",
      "resume",
      "partition",
      "heal",
      "cut",
      "restore",
      "loss",
      "duplication",
      "clock-offset",
      "disk-full",
      "slow-disk",
      "bootstrap",
      "decommission",
      "removenode",
    ];
    expect([...seen].sort()).toEqual([...all].sort());
  });

  it("draws clock offsets past the limit, up to twice it, of both signs", () => {
    const clockOnly = { kinds: new Set<FaultKind>(["clock"]) };
    const offsets = Array.from({ length: 20 }, (_, seed) => plan(seed, clockOnly))
      .flat()
      .flatMap(({ fault }) => (fault.kind === "clock-offset" ? [fault.offsetMs] : []))
      .filter((offset) => offset !== 0);
    const max = BASE.maxClockOffsetMs;
    expect(offsets.every((offset) => Math.abs(offset) <= 2 * max)).toBe(true);
    expect(offsets.some((offset) => Math.abs(offset) > max)).toBe(true);
    expect(offsets.some((offset) => Math.abs(offset) <= max)).toBe(true);
    expect(offsets.some((offset) => offset < 0)).toBe(true);
    expect(offsets.some((offset) => offset > 0)).toBe(true);
  });

  it("spaces faults by exponential gaps of the mean asked", () => {
    // Loss always has a legal draw, so every arrival is a fault and the gaps are the arrivals'.
    const meanGapMs = 100;
    const gaps = [0, 1, 2, 3].flatMap((seed) => {
      const faults = plan(seed, { kinds: new Set(["loss"]), meanGapMs, healAtMs: 150_000 });
      const main = faults.filter(({ atMs }) => atMs < 145_000);
      return main.slice(1).map(({ atMs }, i) => atMs - (main[i] as PlannedFault).atMs);
    });
    const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    expect(mean).toBeGreaterThan(meanGapMs * 0.95);
    expect(mean).toBeLessThan(meanGapMs * 1.05);
    // Exponential: about e^-1 of the gaps are longer than the mean.
    const longer = gaps.filter((gap) => gap > meanGapMs).length / gaps.length;
    expect(longer).toBeGreaterThan(0.3);
    expect(longer).toBeLessThan(0.45);
  });

  it("never takes more than maxDownAtOnce nodes down, and none with 0", () => {
    for (let seed = 0; seed < 10; seed++) {
      const faults = plan(seed, { maxDownAtOnce: 0, kinds: new Set(["crash", "pause", "ring"]) });
      const downing = ["kill", "power-loss", "pause"];
      const downs = faults.filter(({ fault }) => downing.includes(fault.kind));
      expect(downs).toEqual([]);
      expect(faults.some(({ fault }) => fault.kind === "removenode")).toBe(false);
    }
  });

  it("never shrinks the ring below rf + 1 before a member leaves", () => {
    for (let seed = 0; seed < 10; seed++) {
      const options = { nodes: ["a", "b", "c", "d"], spareNodes: [], replicationFactor: 3 };
      const leaves = plan(seed, options).filter(
        ({ fault }) => fault.kind === "decommission" || fault.kind === "removenode",
      );
      expect(leaves.length).toBeLessThanOrEqual(1);
    }
  });

  it("spaces ring changes wider than the harness retries a refused one, so requests never pile up", () => {
    const { retryForMs, retryEveryMs } = RING_CHANGE_LIMITS;
    expect(FAULT_DRAW_LIMITS.ringChangeGapMs).toBeGreaterThan(retryForMs + retryEveryMs);
  });

  it("refuses options that leave no room to heal", () => {
    expect(() => plan(1, { healAtMs: 200_000, durationMs: 100_000 })).toThrow(/healed/);
    expect(() => plan(1, { meanGapMs: 0 })).toThrow(/meanGapMs/);
  });
});

describe("describeFault", () => {
  it("prints one line per fault", () => {
    const lines = [
      describeFault({ kind: "kill", node: "n3" }),
      describeFault({
        kind: "partition",
        groups: [
          ["n1", "n2"],
          ["n3", "n4", "n5"],
        ],
      }),
      describeFault({ kind: "heal" }),
      describeFault({ kind: "cut", from: "n1", to: "n2" }),
      describeFault({ kind: "loss", probability: 0.1 }),
      describeFault({ kind: "clock-offset", node: "n2", offsetMs: -300 }),
      describeFault({ kind: "clock-offset", node: "n2", offsetMs: 300 }),
      describeFault({ kind: "disk-full", node: "n4", full: true }),
      describeFault({ kind: "slow-disk", node: "n4", delayMs: 40 }),
      describeFault({ kind: "removenode", node: "n5" }),
    ];
    expect(lines).toEqual([
      "kill n3",
      "partition [n1 n2] [n3 n4 n5]",
      "heal",
      "cut n1->n2",
      "loss 0.1",
      "clock-offset n2 -300ms",
      "clock-offset n2 +300ms",
      "disk-full n4 on",
      "slow-disk n4 40ms",
      "removenode n5",
    ]);
    for (const { fault } of plan(3)) expect(describeFault(fault)).not.toMatch(/\n|undefined/);
  });
});
