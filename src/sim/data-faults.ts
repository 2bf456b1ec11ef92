// sim/data-faults.ts — what each planned fault (fault-plan.ts) does to a simulated cluster
// (data-cluster.ts), and the heal that undoes them all before the run's final checks. Each
// returns the line the run's history keeps for it.

import type { DataCluster } from "./data-cluster.js";
import { describeFault, type Fault } from "./fault-plan.js";
import { applyRingChange, isRingFault } from "./ring-changes.js";

/**
 * Applies one fault; returns its line for the history's events. A restart that fails (a full disk)
 * leaves the machine down, noted through `note`; the heal restarts it.
 */
export function applyFault(
  cluster: DataCluster,
  fault: Fault,
  note: (what: string) => void = () => undefined,
): string {
  const line = describeFault(fault);
  if (isRingFault(fault)) return applyRingChange(cluster, fault, note);
  switch (fault.kind) {
    case "kill":
      cluster.kill(fault.node);
      break;
    case "power-loss":
      cluster.powerLoss(fault.node);
      break;
    case "restart":
      if (cluster.stateOf(fault.node) === "down") {
        cluster.start(fault.node).catch((error: unknown) => {
          note(
            `${fault.node} failed to start: ${error instanceof Error ? error.message : String(error)}`,
          );
        });
      }
      break;
    case "pause":
      cluster.pause(fault.node);
      break;
    case "resume":
      cluster.resume(fault.node);
      break;
    default:
      return applyNetworkOrMachineFault(cluster, fault, line);
  }
  return line;
}

function applyNetworkOrMachineFault(cluster: DataCluster, fault: Fault, line: string): string {
  const { network } = cluster;
  switch (fault.kind) {
    case "partition":
      network.partition(fault.groups.map((group) => group.map((id) => cluster.addressOf(id))));
      return line;
    case "heal":
      network.heal();
      return line;
    case "cut":
      network.cut(cluster.addressOf(fault.from), cluster.addressOf(fault.to));
      return line;
    case "restore":
      network.restore(cluster.addressOf(fault.from), cluster.addressOf(fault.to));
      return line;
    case "loss":
      network.setLoss(fault.probability);
      return line;
    case "duplication":
      network.setDuplication(fault.probability);
      return line;
    case "clock-offset":
      cluster.setClockOffset(fault.node, fault.offsetMs);
      return line;
    case "disk-full":
      cluster.disk(fault.node).setFull(fault.full);
      return line;
    case "slow-disk":
      cluster.disk(fault.node).setWriteDelayMs(fault.delayMs);
      return line;
    default:
      return line;
  }
}

/** Undoes every fault: the network whole and clean, clocks true, disks well, nodes resumed. */
export function healAll(cluster: DataCluster): void {
  const { network } = cluster;
  network.heal();
  network.setLoss(0);
  network.setDuplication(0);
  for (const id of cluster.ids()) {
    cluster.resume(id);
    cluster.setClockOffset(id, 0);
    cluster.disk(id).setFull(false);
    cluster.disk(id).setWriteDelayMs(0);
  }
}
