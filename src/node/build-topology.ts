// node/build-topology.ts — ring changes (issue 5) from the node's config: bootstrap, decommission,
// removenode, cleanup and range streaming. None with an injected engine (a test double), which
// enters as normal and never changes the ring.

import type { PeerTls } from "../net/peer-tls.js";
import type { Address, NodeId } from "../core/ids.js";
import { createNodeTopology, type NodeTopology, type RingStart } from "./node-topology.js";
import type { NodeCore } from "./node-parts.js";
import { randomOf, type NodeDeps } from "./node-ports.js";

/**
 * The parts built before topology (node-parts.ts), the address book, and where the ring started.
 */
export type NodeTopologyBuildInput = Pick<
  NodeCore,
  "config" | "identity" | "engine" | "store" | "clock" | "clockGuard" | "log" | "isStopping"
> & {
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly ringStart: RingStart | null;
  readonly ports: NodeDeps;
  /** With --certs-dir: the mutual TLS the node's clients speak to peers (node/node-tls.ts). */
  readonly peerTls?: PeerTls | undefined;
};

export function buildTopology(input: NodeTopologyBuildInput): NodeTopology | null {
  const { config, ringStart } = input;
  if (ringStart === null) return null;
  return createNodeTopology({
    self: input.identity.id,
    dataDir: config.dataDir,
    files: input.ports.stateFiles,
    http: input.ports.peerHttp,
    peerTls: input.peerTls,
    replicationFactor: config.replicationFactor,
    vnodes: config.vnodes,
    gossipIntervalMs: config.gossipIntervalMs,
    clusterSecret: config.clusterSecret,
    engine: input.engine,
    // Streamed records from the future are skipped one by one; the page still applies and the
    // stream advances.
    store: input.clockGuard.guardStore(input.store, "stream"),
    clock: input.clock,
    random: randomOf(input.ports, "topology"),
    log: input.log.child({ component: "topology" }),
    addressOf: input.addressOf,
    stopping: input.isStopping,
    ringStart,
    streamOptions: {
      bytesPerSecondMax: config.streamBytesPerS,
      concurrentStreamsMax: config.streamsMax,
      ...(input.ports.streamPageRecordsMax === undefined
        ? {}
        : { pageRecordsMax: input.ports.streamPageRecordsMax }),
    },
  });
}
