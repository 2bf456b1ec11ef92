// sim/fault-draws.ts — one fault of a given family, drawn so that it is legal in the current state.
//
// Each family either starts a fault or, about half the time when one is in force, undoes one, so
// faults come and go through a run instead of only piling up until the heal. A draw returns
// undefined when its family has nothing legal to do now (every node down, no spare left, a ring
// change too recent); the planner then just waits for the next gap. Pure: chance only from the
// injected Random, and every choice is over insertion-ordered lists, so a seed replays a plan.

import { pickOne, pickSome, randomInt, type Random } from "../core/random.js";
import { linkKey, type Fault, type FaultState } from "./fault-state.js";

/** The fault families a plan may enable. */
export type FaultKind =
  "crash" | "pause" | "partition" | "cut" | "loss" | "duplication" | "clock" | "disk" | "ring";

export const FAULT_KINDS: readonly FaultKind[] = [
  "crash",
  "pause",
  "partition",
  "cut",
  "loss",
  "duplication",
  "clock",
  "disk",
  "ring",
];

export const FAULT_DRAW_LIMITS = {
  /** The chance that a family with a fault in force undoes one rather than starting another. */
  undoShare: 0.5,
  /** Message loss and duplication rates are drawn up to these: high, but traffic still flows. */
  lossMax: 0.3,
  duplicationMax: 0.2,
  /** Clock offsets reach this multiple of maxClockOffsetMs, so the guard's limit gets crossed. */
  clockOffsetReach: 2,
  /** The longest extra delay of a slow disk. */
  slowDiskDelayMaxMs: 200,
  /** A partition splits the members into 2..this many groups. */
  partitionGroupsMax: 3,
  /**
   * Ring changes this far apart. A change can outlast any fixed gap (a decommission under faults
   * took 38 s), and the harness asks a change refused as "in progress" again every second for 20 s
   * (ring-changes.ts RING_CHANGE_LIMITS), so the gap is longer than that retry window: the previous
   * request has started or been given up before the next is drawn. An overlap is then refused and
   * given up cleanly, and at most one request is ever waiting, instead of one per gap piling up.
   */
  ringChangeGapMs: 22_000,
  /**
   * No ring change drawn this close to the heal; one still running then gets the run's ring settle.
   */
  ringChangeBeforeHealMs: 10_000,
} as const;

export interface DrawContext {
  readonly random: Random;
  readonly state: FaultState;
  readonly atMs: number;
  readonly healAtMs: number;
  readonly maxDownAtOnce: number;
  readonly maxClockOffsetMs: number;
  readonly replicationFactor: number;
}

const undoing = (random: Random, inForce: boolean): boolean =>
  inForce && random.next() < FAULT_DRAW_LIMITS.undoShare;

function drawDown(context: DrawContext, paused: boolean): Fault | undefined {
  const { random, state } = context;
  const down = [...state.down].filter(([, s]) => (s === "paused") === paused).map(([n]) => n);
  const node = pickOne(random, down);
  if (node !== undefined && undoing(random, true)) {
    return { kind: paused ? "resume" : "restart", node };
  }
  if (state.down.size >= context.maxDownAtOnce) return undefined;
  const victim = pickOne(random, state.up());
  if (victim === undefined) return undefined;
  if (paused) return { kind: "pause", node: victim };
  return { kind: random.next() < 0.5 ? "kill" : "power-loss", node: victim };
}

function drawPartition({ random, state }: DrawContext): Fault | undefined {
  if (state.partitioned) return { kind: "heal" };
  const members = pickSome(random, state.members, state.members.length);
  if (members.length < 2) return undefined;
  const most = Math.min(FAULT_DRAW_LIMITS.partitionGroupsMax, members.length);
  const count = 2 + randomInt(random, most - 1);
  const inner = Array.from({ length: members.length - 1 }, (_, i) => i + 1);
  const bounds = [0, ...pickSome(random, inner, count - 1).sort((a, b) => a - b), members.length];
  const groups = bounds.slice(1).map((end, i) => members.slice(bounds[i], end));
  return { kind: "partition", groups };
}

function drawCut({ random, state }: DrawContext): Fault | undefined {
  const up = state.up();
  const upSet = new Set(up);
  const restorable = [...state.cuts.values()].filter((c) => upSet.has(c.from) && upSet.has(c.to));
  const restore = pickOne(random, restorable);
  if (restore !== undefined && undoing(random, true)) return { kind: "restore", ...restore };
  const pairs = up.flatMap((from) => up.filter((to) => to !== from).map((to) => ({ from, to })));
  const cut = pickOne(
    random,
    pairs.filter((p) => !state.cuts.has(linkKey(p.from, p.to))),
  );
  return cut === undefined ? undefined : { kind: "cut", ...cut };
}

function drawRate(context: DrawContext, kind: "loss" | "duplication"): Fault {
  const { random, state } = context;
  if (undoing(random, state[kind] > 0)) return { kind, probability: 0 };
  const max = kind === "loss" ? FAULT_DRAW_LIMITS.lossMax : FAULT_DRAW_LIMITS.duplicationMax;
  // Rounded so a plan prints and reads back cleanly; never 0, which would be an undo.
  const probability = Math.max(0.001, Math.round(random.next() * max * 1000) / 1000);
  return { kind, probability };
}

function drawClock({ random, state, maxClockOffsetMs }: DrawContext): Fault | undefined {
  const up = state.up();
  const skewed = pickOne(
    random,
    up.filter((node) => state.clock.has(node)),
  );
  if (skewed !== undefined && undoing(random, true)) {
    return { kind: "clock-offset", node: skewed, offsetMs: 0 };
  }
  const node = pickOne(random, up);
  if (node === undefined) return undefined;
  const reach = FAULT_DRAW_LIMITS.clockOffsetReach * maxClockOffsetMs;
  const magnitude = Math.max(1, Math.round(random.next() * reach));
  const offsetMs = random.next() < 0.5 ? -magnitude : magnitude;
  return { kind: "clock-offset", node, offsetMs };
}

function drawDisk({ random, state }: DrawContext): Fault | undefined {
  const up = state.up();
  const ailing = up.filter((node) => state.diskFull.has(node) || state.slowDisk.has(node));
  const sick = pickOne(random, ailing);
  if (sick !== undefined && undoing(random, true)) {
    if (state.diskFull.has(sick)) return { kind: "disk-full", node: sick, full: false };
    return { kind: "slow-disk", node: sick, delayMs: 0 };
  }
  const node = pickOne(random, up);
  if (node === undefined) return undefined;
  if (random.next() < 0.5 && !state.diskFull.has(node)) {
    return { kind: "disk-full", node, full: true };
  }
  const delayMs = 1 + randomInt(random, FAULT_DRAW_LIMITS.slowDiskDelayMaxMs);
  return { kind: "slow-disk", node, delayMs };
}

function drawRing(context: DrawContext): Fault | undefined {
  const { random, state, atMs } = context;
  const { ringChangeGapMs, ringChangeBeforeHealMs } = FAULT_DRAW_LIMITS;
  if (
    atMs - state.lastRingAtMs < ringChangeGapMs ||
    atMs + ringChangeBeforeHealMs > context.healAtMs
  )
    return undefined;
  const options: Fault[] = [];
  const spare = pickOne(random, state.spares);
  if (spare !== undefined) options.push({ kind: "bootstrap", node: spare });
  // A member may leave only if rf members remain to hold every replica.
  if (state.members.length >= context.replicationFactor + 1) {
    const clean = state.members.filter((node) => state.isClean(node));
    const leaving = pickOne(
      random,
      clean.filter((node) => !state.down.has(node)),
    );
    if (leaving !== undefined) options.push({ kind: "decommission", node: leaving });
    const dead = pickOne(
      random,
      clean.filter((node) => state.down.get(node) === "dead"),
    );
    if (dead !== undefined) options.push({ kind: "removenode", node: dead });
  }
  return pickOne(random, options);
}

/** A legal fault of `kind` now, or undefined when that family has nothing to do. */
export function drawFault(kind: FaultKind, context: DrawContext): Fault | undefined {
  switch (kind) {
    case "crash":
      return drawDown(context, false);
    case "pause":
      return drawDown(context, true);
    case "partition":
      return drawPartition(context);
    case "cut":
      return drawCut(context);
    case "loss":
    case "duplication":
      return drawRate(context, kind);
    case "clock":
      return drawClock(context);
    case "disk":
      return drawDisk(context);
    case "ring":
      return drawRing(context);
  }
}
