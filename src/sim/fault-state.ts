// sim/fault-state.ts — what the faults planned so far have left in force, for the fault planner.
//
// The planner (fault-plan.ts) draws one fault at a time; this state says which faults are legal
// next (who is down, which links are cut, which ring change was last) and, at the end of the
// plan, which undos bring the cluster back to health. apply() asserts every rule of a plan, so a
// planner bug fails loudly where it happens rather than as a strange simulation much later.

import { assert } from "../core/assert.js";

export type Fault =
  | { readonly kind: "kill"; readonly node: string }
  | { readonly kind: "power-loss"; readonly node: string }
  | { readonly kind: "restart"; readonly node: string }
  | { readonly kind: "pause"; readonly node: string }
  | { readonly kind: "resume"; readonly node: string }
  | { readonly kind: "partition"; readonly groups: readonly (readonly string[])[] }
  | { readonly kind: "heal" }
  | { readonly kind: "cut"; readonly from: string; readonly to: string }
  | { readonly kind: "restore"; readonly from: string; readonly to: string }
  | { readonly kind: "loss"; readonly probability: number }
  | { readonly kind: "duplication"; readonly probability: number }
  | { readonly kind: "clock-offset"; readonly node: string; readonly offsetMs: number }
  | { readonly kind: "disk-full"; readonly node: string; readonly full: boolean }
  | { readonly kind: "slow-disk"; readonly node: string; readonly delayMs: number }
  | { readonly kind: "bootstrap"; readonly node: string }
  | { readonly kind: "decommission"; readonly node: string }
  | { readonly kind: "removenode"; readonly node: string };

/** Killed and power-lost nodes are dead (they restart); paused ones resume. */
export type DownState = "dead" | "paused";

export const linkKey = (from: string, to: string): string => `${from}\u0000${to}`;

export class FaultState {
  /** Ring members in the order they joined, so every choice over them is deterministic. */
  readonly members: string[];
  /** Spare ids not yet bootstrapped. */
  readonly spares: string[];
  readonly down = new Map<string, DownState>();
  partitioned = false;
  // Kept apart from the partition: SimNetwork.heal() also restores cuts, so a later restore may
  // be a no-op there, but a plan that restores its own cuts is right under either meaning of heal.
  readonly cuts = new Map<string, { readonly from: string; readonly to: string }>();
  loss = 0;
  duplication = 0;
  /** Nonzero clock offsets only. */
  readonly clock = new Map<string, number>();
  readonly diskFull = new Set<string>();
  /** Nonzero disk delays only. */
  readonly slowDisk = new Map<string, number>();
  lastRingAtMs = Number.NEGATIVE_INFINITY;

  constructor(nodes: readonly string[], spares: readonly string[]) {
    const all = [...nodes, ...spares];
    assert(new Set(all).size === all.length, "node and spare ids are distinct");
    this.members = nodes.slice();
    this.spares = spares.slice();
  }

  /** Members that are neither dead nor paused. */
  up(): string[] {
    return this.members.filter((node) => !this.down.has(node));
  }

  /** Whether a node carries no fault of its own (no cut, offset or disk fault), so it may leave. */
  isClean(node: string): boolean {
    const inCut = [...this.cuts.values()].some((c) => c.from === node || c.to === node);
    return !inCut && !this.clock.has(node) && !this.diskFull.has(node) && !this.slowDisk.has(node);
  }

  apply(fault: Fault, atMs: number): void {
    switch (fault.kind) {
      case "kill":
      case "power-loss":
      case "pause":
        this.#upMember(fault.node);
        this.down.set(fault.node, fault.kind === "pause" ? "paused" : "dead");
        return;
      case "restart":
      case "resume": {
        const was: DownState = fault.kind === "restart" ? "dead" : "paused";
        const node = fault.node;
        assert(this.down.get(node) === was, () => `${fault.kind} of ${node}, not ${was}`);
        this.down.delete(node);
        return;
      }
      case "partition":
      case "heal":
        assert(this.partitioned === (fault.kind === "heal"), `${fault.kind} when it is not due`);
        this.partitioned = fault.kind === "partition";
        return;
      default:
        this.#applyLinkOrNode(fault);
        this.#applyRing(fault, atMs);
    }
  }

  #applyLinkOrNode(fault: Fault): void {
    switch (fault.kind) {
      case "cut":
      case "restore": {
        this.#upMember(fault.from);
        this.#upMember(fault.to);
        const key = linkKey(fault.from, fault.to);
        assert(this.cuts.has(key) === (fault.kind === "restore"), `${fault.kind} twice`);
        if (fault.kind === "cut") this.cuts.set(key, { from: fault.from, to: fault.to });
        else this.cuts.delete(key);
        return;
      }
      case "loss":
      case "duplication":
        assert(fault.probability >= 0 && fault.probability <= 1, "a probability is 0..1");
        this[fault.kind] = fault.probability;
        return;
      case "clock-offset":
        this.#upMember(fault.node);
        if (fault.offsetMs === 0) this.clock.delete(fault.node);
        else this.clock.set(fault.node, fault.offsetMs);
        return;
      case "disk-full":
        this.#upMember(fault.node);
        if (fault.full) this.diskFull.add(fault.node);
        else this.diskFull.delete(fault.node);
        return;
      case "slow-disk":
        this.#upMember(fault.node);
        assert(fault.delayMs >= 0, "a disk delay is ≥ 0");
        if (fault.delayMs === 0) this.slowDisk.delete(fault.node);
        else this.slowDisk.set(fault.node, fault.delayMs);
        return;
      default:
    }
  }

  #applyRing(fault: Fault, atMs: number): void {
    const ring = fault.kind === "bootstrap" || fault.kind === "decommission";
    if (!ring && fault.kind !== "removenode") return;
    this.lastRingAtMs = atMs;
    const node = fault.node;
    if (fault.kind === "bootstrap") {
      const index = this.spares.indexOf(node);
      assert(index >= 0, () => `bootstrap of ${node}, which is not a spare`);
      this.spares.splice(index, 1);
      this.members.push(node);
      return;
    }
    assert(this.isClean(node), () => `${fault.kind} of ${node}, which still carries faults`);
    if (fault.kind === "decommission") this.#upMember(node);
    else assert(this.down.get(node) === "dead", () => `removenode of ${node}, which is not dead`);
    this.down.delete(node);
    this.members.splice(this.members.indexOf(node), 1);
  }

  #upMember(node: string): void {
    assert(this.members.includes(node), () => `${node} is not a ring member`);
    assert(!this.down.has(node), () => `a fault on ${node} while it is down`);
  }

  /** The faults that undo everything in force: nodes back first, so their own undos are legal. */
  undoAll(): Fault[] {
    const undos: Fault[] = [];
    for (const [node, state] of this.down) {
      undos.push({ kind: state === "dead" ? "restart" : "resume", node });
    }
    if (this.partitioned) undos.push({ kind: "heal" });
    for (const { from, to } of this.cuts.values()) undos.push({ kind: "restore", from, to });
    if (this.loss > 0) undos.push({ kind: "loss", probability: 0 });
    if (this.duplication > 0) undos.push({ kind: "duplication", probability: 0 });
    for (const node of this.clock.keys()) undos.push({ kind: "clock-offset", node, offsetMs: 0 });
    for (const node of this.diskFull) undos.push({ kind: "disk-full", node, full: false });
    for (const node of this.slowDisk.keys()) undos.push({ kind: "slow-disk", node, delayMs: 0 });
    return undos;
  }
}
