// node/build-antientropy.ts — Merkle anti-entropy (issue 4): its own client, so repair traffic never
// queues behind client writes, the background loop (--anti-entropy-interval-s) and the operator's
// repairs. Records from the future are skipped one by one, not the exchange (node/clock-guard.ts).

import { randomBytes } from "node:crypto";
import type { Address, NodeId } from "../core/ids.js";
import { RepairClient } from "../net/repair-client.js";
import { RepairRouteStats } from "../net/repair-routes.js";
import { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { NodeParts } from "./node-parts.js";

/** The parts built before anti-entropy (node-parts.ts), and the address book. */
export type NodeAntiEntropyInput = Pick<NodeParts, "config" | "identity" | "engine" | "store" | "clock" | "clockGuard" | "log"> & {
  readonly addressOf: (id: NodeId) => Address | undefined;
};

export interface NodeAntiEntropy {
  readonly repairStats: RepairRouteStats;
  readonly repairClient: RepairClient;
  readonly antiEntropy: AntiEntropyService;
}

export function buildAntiEntropy({ config, identity, engine, store, clock, clockGuard, addressOf, log }: NodeAntiEntropyInput): NodeAntiEntropy {
  const repairStats = new RepairRouteStats();
  const repairClient = new RepairClient({ self: identity.id, clusterSecret: config.clusterSecret }, { addressOf });
  const antiEntropy = new AntiEntropyService(
    {
      self: identity.id,
      replicationFactor: config.replicationFactor,
      intervalMs: config.antiEntropyIntervalS === null ? null : config.antiEntropyIntervalS * 1000,
    },
    {
      // Pulled records from the future are skipped one by one (node/clock-guard.ts), not the exchange.
      store: clockGuard.guardStore(store, "repair"),
      transport: repairClient,
      clock,
      ring: () => engine.ring(),
      isLive: (id) => engine.isLive(id),
      log: log.child({ component: "anti-entropy" }),
      newJobId: () => randomBytes(8).toString("hex"),
    },
  );
  return { repairStats, repairClient, antiEntropy };
}
