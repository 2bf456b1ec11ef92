// sim/fault-plan.ts — the faults of a simulation run, drawn from its seed before the run starts.
//
// Theory of operation. Faults arrive as a Poisson process: gaps between them are exponential with
// mean meanGapMs. At each arrival one enabled family is chosen uniformly and draws a fault that is
// legal now (fault-draws.ts): at most maxDownAtOnce nodes dead or paused, nothing done to a node
// while it is down but its restart or resume (or its removenode), ring changes only of spares in
// and of members out while rf + 1 remain, far enough apart that a refused one is given up before
// the next is asked. Arrivals stop a cleanup window before healAtMs; in that window every fault
// still in force is undone, nodes first, so by healAtMs the cluster is whole and the run can check
// that it converges. The plan is a plain list made up front, so a failing run prints it and a
// reader sees the whole schedule at once.

import { assert } from "../core/assert.js";
import { pickOne, type Random } from "../core/random.js";
import { drawFault, FAULT_KINDS, type FaultKind } from "./fault-draws.js";
import { FaultState, type Fault } from "./fault-state.js";

export type { Fault } from "./fault-state.js";
export { FAULT_DRAW_LIMITS, FAULT_KINDS, type FaultKind } from "./fault-draws.js";

export interface FaultPlanOptions {
  /** The ring members at the start. */
  readonly nodes: readonly string[];
  /** Ids a bootstrap may add (each at most once). */
  readonly spareNodes?: readonly string[];
  readonly replicationFactor: number;
  readonly durationMs: number;
  /** Every fault is undone before this time. */
  readonly healAtMs: number;
  readonly meanGapMs: number;
  /** Nodes dead or paused at once. */
  readonly maxDownAtOnce: number;
  /** The clock guard's limit; offsets are drawn up to FAULT_DRAW_LIMITS.clockOffsetReach × it. */
  readonly maxClockOffsetMs: number;
  /** The enabled families. */
  readonly kinds: ReadonlySet<FaultKind>;
}

export interface PlannedFault {
  readonly atMs: number;
  readonly fault: Fault;
}

export const FAULT_PLAN_LIMITS = {
  /** The cleanup window before healAtMs: this long, or a quarter of healAtMs if that is less. */
  cleanupWindowMs: 5_000,
  cleanupShareMax: 0.25,
  /** Below this healAtMs there is no room for a fault and its undo at whole milliseconds. */
  healAtMsMin: 100,
} as const;

function checkOptions(options: FaultPlanOptions): void {
  const { healAtMs, durationMs, meanGapMs, maxDownAtOnce, replicationFactor } = options;
  assert(healAtMs >= FAULT_PLAN_LIMITS.healAtMsMin, "healAtMs leaves room for faults");
  assert(healAtMs <= durationMs, "faults are healed within the run");
  assert(meanGapMs > 0, "meanGapMs > 0");
  assert(Number.isInteger(maxDownAtOnce) && maxDownAtOnce >= 0, "maxDownAtOnce is an integer ≥ 0");
  assert(options.maxClockOffsetMs >= 0, "maxClockOffsetMs ≥ 0");
  assert(Number.isInteger(replicationFactor) && replicationFactor >= 1, "rf ≥ 1");
  assert(options.nodes.length >= 1, "a plan has nodes");
  for (const kind of options.kinds) assert(FAULT_KINDS.includes(kind), `unknown family ${kind}`);
}

/** An exponential gap: -mean × ln(1 − u), the inter-arrival time of a Poisson process. */
function exponentialGap(random: Random, meanMs: number): number {
  return -meanMs * Math.log(1 - random.next());
}

/** The faults of one run, sorted by atMs, each at 0 < atMs < healAtMs; all undone by healAtMs. */
export function planFaults(random: Random, options: FaultPlanOptions): PlannedFault[] {
  checkOptions(options);
  const { healAtMs } = options;
  const state = new FaultState(options.nodes, options.spareNodes ?? []);
  const families = FAULT_KINDS.filter((kind) => options.kinds.has(kind));
  const window = Math.min(
    FAULT_PLAN_LIMITS.cleanupWindowMs,
    healAtMs * FAULT_PLAN_LIMITS.cleanupShareMax,
  );
  const cleanupAtMs = Math.floor(healAtMs - window);
  const plan: PlannedFault[] = [];
  let time = 0;
  while (families.length > 0) {
    time += exponentialGap(random, options.meanGapMs);
    const atMs = Math.max(1, Math.ceil(time));
    if (atMs >= cleanupAtMs) break;
    const family = pickOne(random, families) as FaultKind;
    const fault = drawFault(family, { ...options, random, state, atMs });
    if (fault === undefined) continue;
    state.apply(fault, atMs);
    plan.push({ atMs, fault });
  }
  // Spread over the window, in order, so each undo has time to land before the next.
  const undos = state.undoAll();
  undos.forEach((fault, i) => {
    const step = (healAtMs - cleanupAtMs) / (undos.length + 1);
    const atMs = Math.floor(cleanupAtMs + (i + 1) * step);
    state.apply(fault, atMs);
    plan.push({ atMs, fault });
  });
  return plan;
}

const signed = (ms: number): string => `${ms > 0 ? "+" : ""}${ms}ms`;

/** One line for a fault, as a failing run prints its plan: "kill n3", "cut n1->n2". */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case "partition":
      return `partition ${fault.groups.map((group) => `[${group.join(" ")}]`).join(" ")}`;
    case "heal":
      return "heal";
    case "cut":
    case "restore":
      return `${fault.kind} ${fault.from}->${fault.to}`;
    case "loss":
    case "duplication":
      return `${fault.kind} ${fault.probability}`;
    case "clock-offset":
      return `clock-offset ${fault.node} ${signed(fault.offsetMs)}`;
    case "disk-full":
      return `disk-full ${fault.node} ${fault.full ? "on" : "off"}`;
    case "slow-disk":
      return `slow-disk ${fault.node} ${fault.delayMs}ms`;
    default:
      return `${fault.kind} ${fault.node}`;
  }
}
