// sim/ring-changes.ts — the ring-change faults (fault-plan.ts "ring") made real on a simulated
// cluster (data-cluster.ts), as an operator makes them:
//
//   bootstrap n6 starts a spare machine; its node joins and streams its ranges
//   (topology/bootstrap.ts) decommission n2 what POST /admin/decommission runs on n2
//   (topology-service startDecommission);
//                      the node leaves, exits 0, and its machine is gone for good (data-cluster
//                      #exit)
//   removenode n3 what POST /admin/removenode/n3 runs on a live member; once the removal is done
//                      the dead machine is retired and never restarts
//
// A change refused for a passing reason (another change still running, a dead member not yet seen
// down) is asked again every second for a while, as an operator would; any other refusal, and a
// change that fails, is noted in the history's events and the cluster goes on as it is. The final
// phase judges whatever ring the cluster ends with.

import { GrapevineError } from "../core/errors.js";
import type { DataCluster } from "./data-cluster.js";
import { describeFault, type Fault } from "./fault-plan.js";

export const RING_CHANGE_LIMITS = {
  /** A change refused for a passing reason is asked again this often... */
  retryEveryMs: 1_000,
  /** ...until this long after it was first asked. */
  retryForMs: 20_000,
  /** How often a running change's state is looked at, to retire a removed machine. */
  pollEveryMs: 500,
} as const;

/** Refusals that go away by themselves: another change finishes, the failure detector convicts. */
const PASSING_REFUSALS: ReadonlySet<string> = new Set(["ring_change_in_progress", "member_live"]);

export type RingFault = Extract<Fault, { kind: "bootstrap" | "decommission" | "removenode" }>;

export function isRingFault(fault: Fault): fault is RingFault {
  return fault.kind === "bootstrap" || fault.kind === "decommission" || fault.kind === "removenode";
}

type Note = (what: string) => void;

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Applies one ring change; returns its line for the history's events. Progress comes through
 * `note`.
 */
export function applyRingChange(cluster: DataCluster, fault: RingFault, note: Note): string {
  const line = describeFault(fault);
  if (fault.kind === "bootstrap") {
    if (cluster.roleOf(fault.node) !== "spare") return `${line} (skipped: not a spare)`;
    cluster.start(fault.node).catch((error: unknown) => {
      note(`${fault.node} failed to start: ${messageOf(error)}`);
    });
    return line;
  }
  request(cluster, fault, note, cluster.clock.nowMs() + RING_CHANGE_LIMITS.retryForMs);
  return line;
}

/** The member that runs the change: the leaver itself, or the first member up for a removal. */
function runnerOf(cluster: DataCluster, fault: RingFault): string | undefined {
  if (fault.kind === "decommission")
    return cluster.stateOf(fault.node) === "up" ? fault.node : undefined;
  return cluster.ids().find((id) => id !== fault.node && cluster.stateOf(id) === "up");
}

function request(cluster: DataCluster, fault: RingFault, note: Note, giveUpAtMs: number): void {
  const line = describeFault(fault);
  const retry = (why: string): void => {
    if (cluster.clock.nowMs() + RING_CHANGE_LIMITS.retryEveryMs > giveUpAtMs) {
      note(`${line} given up: ${why}`);
      return;
    }
    cluster.clock.schedule(RING_CHANGE_LIMITS.retryEveryMs, () =>
      request(cluster, fault, note, giveUpAtMs),
    );
  };
  if (fault.kind === "removenode" && cluster.stateOf(fault.node) !== "down") {
    note(`${line} given up: ${fault.node} is ${cluster.stateOf(fault.node)}`);
    return;
  }
  const runner = runnerOf(cluster, fault);
  const service = runner === undefined ? undefined : cluster.node(runner)?.topology?.service;
  if (runner === undefined || service === undefined) {
    retry("no member up to run it");
    return;
  }
  try {
    if (fault.kind === "decommission") service.startDecommission();
    else service.startRemoveNode(fault.node);
  } catch (error) {
    const code = error instanceof GrapevineError ? error.code : "error";
    if (PASSING_REFUSALS.has(code)) retry(`${code}: ${messageOf(error)}`);
    else note(`${line} refused by ${runner}: ${code}: ${messageOf(error)}`);
    return;
  }
  note(`${line} started on ${runner}`);
  watch(cluster, fault, runner, note);
}

/**
 * Follows the change on its runner until it ends; a removal that is done retires the dead machine.
 */
function watch(cluster: DataCluster, fault: RingFault, runner: string, note: Note): void {
  const line = describeFault(fault);
  const node = cluster.node(runner);
  const look = (): void => {
    // The runner's life ended (a crash, or the leaver's own exit, which data-cluster notes).
    if (cluster.node(runner) !== node || node === null) return;
    const change = node.topology?.service.change();
    if (change === undefined || change === null || change.state === "running") {
      cluster.clock.schedule(RING_CHANGE_LIMITS.pollEveryMs, look);
      return;
    }
    if (change.state === "failed") {
      note(`${line} failed on ${runner}: ${change.error ?? "no reason given"}`);
      return;
    }
    note(`${line} done on ${runner}: ${change.keys} keys streamed`);
    if (fault.kind === "removenode") cluster.retire(fault.node);
  };
  look();
}
