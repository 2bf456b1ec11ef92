// node/build-antientropy.ts — Merkle anti-entropy (issue 4): its own client, so repair traffic
// never queues behind client writes, the background loop (--anti-entropy-interval-s) and the
// operator's repairs. Records from the future are skipped one by one, not the exchange
// (node/clock-guard.ts).

import type { PeerTls } from "../net/peer-tls.js";
import type { Address, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { RepairClient } from "../net/repair-client.js";
import { RepairRouteStats } from "../net/repair-routes.js";
import { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { NodeCore } from "./node-parts.js";
import { randomOf, type NodeDeps } from "./node-ports.js";

/** The parts built before anti-entropy (node-parts.ts), and the address book. */
export type NodeAntiEntropyInput = Pick<
  NodeCore,
  "config" | "identity" | "engine" | "store" | "clock" | "clockGuard" | "log"
> & {
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly ports: NodeDeps;
  /** With --certs-dir: the mutual TLS the node's clients speak to peers (node/node-tls.ts). */
  readonly peerTls?: PeerTls | undefined;
};

export interface NodeAntiEntropy {
  readonly repairStats: RepairRouteStats;
  readonly repairClient: RepairClient;
  readonly antiEntropy: AntiEntropyService;
}

export function buildAntiEntropy(input: NodeAntiEntropyInput): NodeAntiEntropy {
  const { config, identity, engine, store, clock, clockGuard, addressOf, log } = input;
  const jobIds = randomOf(input.ports, "repair-jobs");
  const repairStats = new RepairRouteStats();
  const repairClient = new RepairClient(
    { self: identity.id, clusterSecret: config.clusterSecret },
    {
      addressOf,
      tls: input.peerTls,
      ...(input.ports.peerHttp === undefined ? {} : { http: input.ports.peerHttp }),
    },
  );
  const antiEntropy = new AntiEntropyService(
    {
      self: identity.id,
      replicationFactor: config.replicationFactor,
      intervalMs: config.antiEntropyIntervalS === null ? null : config.antiEntropyIntervalS * 1000,
    },
    {
      // Pulled records from the future are skipped one by one (node/clock-guard.ts), not the
      // exchange.
      store: clockGuard.guardStore(store, "repair"),
      transport: repairClient,
      clock,
      ring: () => engine.ring(),
      isLive: (id) => engine.isLive(id),
      log: log.child({ component: "anti-entropy" }),
      newJobId: () => newJobId(jobIds),
    },
  );
  return { repairStats, repairClient, antiEntropy };
}

/**
 * 64 random bits as 16 hex digits: a repair job's id, unique enough to name it in the status API.
 */
function newJobId(random: Random): string {
  const word = (): string =>
    Math.floor(random.next() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  return word() + word();
}
