// node/node-route-options.ts — what each node-to-node route (and /cluster/status) is given, built
// once from the node's parts: fastify mounts these routes on the real node (http-routes.ts), and
// the simulator serves the same groups without fastify (nodeRouteGroups → net/internal-routes.ts).
// One builder, so a simulated node's routes are the real ones with the real options.

import type { ClusterRoutesOptions } from "../api/cluster-routes.js";
import type { NodeRouteGroup } from "../net/node-route.js";
import { peerRouteGroup, type PeerRoutesOptions } from "../net/peer-routes.js";
import { repairRouteGroup, type RepairRoutesOptions } from "../net/repair-routes.js";
import { replicaRouteGroup, type ReplicaRoutesOptions } from "../net/replica-routes.js";
import type { NodeCore } from "./node-parts.js";

/** A remote timestamp is merged into this node's clock unless it is too far ahead or invalid. */
export function timestampObserver({
  hlc,
  wallUs,
}: Pick<NodeCore, "hlc" | "wallUs">): (timestampUs: number) => boolean {
  return (timestampUs) => {
    const outcome = hlc.observe(timestampUs, wallUs());
    return outcome === "merged" || outcome === "behind";
  };
}

export function peerRouteOptions(parts: NodeCore): PeerRoutesOptions {
  const { config, identity, clock, clockGuard, tickLoop } = parts;
  return {
    clusterSecret: config.clusterSecret,
    stats: parts.peerStats,
    deps: {
      receive: tickLoop.receive,
      send: tickLoop.send,
      nowMs: () => clock.nowMs(),
      wallMs: () => clockGuard.wallMs(),
      self: identity.id,
    },
  };
}

export function replicaRouteOptions(parts: NodeCore): ReplicaRoutesOptions {
  const { config, store, clockGuard } = parts;
  return {
    clusterSecret: config.clusterSecret,
    stats: parts.replicaStats,
    deps: {
      store,
      observeTimestamp: timestampObserver(parts),
      onTimestampRefused: ({ origin, key, timestampUs }) =>
        clockGuard.refused("replica", { origin, key, timestampUs }),
      recovering: () => parts.recovery.recovering(),
      ...(config.fallbackBytesMax > 0 ? { fallbacks: parts.fallbacks } : {}),
    },
  };
}

export function clusterRouteOptions(parts: NodeCore): ClusterRoutesOptions {
  const { config, identity, engine, clock, clockGuard, ringSettle, topology } = parts;
  return {
    nodeId: identity.id,
    replicationFactor: config.replicationFactor,
    engine,
    nowMs: () => clock.nowMs(),
    serving: () => ringSettle.settled,
    clock: () => clockGuard.verdict(),
    fallbacks: () => {
      const { copies, bytes, bytesMax } = parts.fallbacks.stats();
      return { copies, bytes, bytesMax };
    },
    metadata: () => {
      const digest = parts.metadata.digest();
      // A member that left or was removed is no longer asked to agree.
      const members = new Set(
        engine
          .membership()
          .filter((m) => m.status !== "left")
          .map((m) => m.id),
      );
      const heard = [...(engine.metadataDigests?.() ?? new Map<string, string>())];
      const peers = Object.fromEntries(heard.filter(([id]) => members.has(id)));
      return { digest, peers, agree: Object.values(peers).every((d) => d === digest) };
    },
    ...(topology === null ? {} : { topology: topology.service }),
  };
}

export function repairRouteOptions(parts: NodeCore): RepairRoutesOptions {
  const { config, store, clockGuard } = parts;
  return {
    clusterSecret: config.clusterSecret,
    stats: parts.repairStats,
    deps: {
      // Pushed records from the future are skipped one by one; the rest of the exchange applies.
      store: clockGuard.guardStore(store, "repair"),
      observeTimestamp: timestampObserver(parts),
    },
  };
}

/** The node-to-node route groups a node serves, for a router without fastify. */
export function nodeRouteGroups(parts: NodeCore): NodeRouteGroup[] {
  return [
    peerRouteGroup(peerRouteOptions(parts)),
    replicaRouteGroup(replicaRouteOptions(parts)),
    repairRouteGroup(repairRouteOptions(parts)),
    ...(parts.topology?.routeGroups() ?? []),
  ];
}
