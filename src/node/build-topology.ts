// node/build-topology.ts — ring changes (issue 5) from the node's config: bootstrap, decommission,
// removenode, cleanup and range streaming. None with an injected engine (a test double), which
// enters as normal and never changes the ring.

import { randomInt } from "node:crypto";
import type { Address, NodeId } from "../core/ids.js";
import { createRandom } from "../core/random.js";
import { createNodeTopology, type NodeTopology, type RingStart } from "./node-topology.js";
import type { NodeParts } from "./node-parts.js";

/** The parts built before topology (node-parts.ts), the address book, and where the ring started. */
export type NodeTopologyBuildInput = Pick<NodeParts, "config" | "identity" | "engine" | "store" | "clock" | "clockGuard" | "log" | "isStopping"> & {
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly ringStart: RingStart | null;
};

export function buildTopology(input: NodeTopologyBuildInput): NodeTopology | null {
  const { config, ringStart } = input;
  if (ringStart === null) return null;
  return createNodeTopology({
    self: input.identity.id,
    dataDir: config.dataDir,
    replicationFactor: config.replicationFactor,
    vnodes: config.vnodes,
    gossipIntervalMs: config.gossipIntervalMs,
    clusterSecret: config.clusterSecret,
    engine: input.engine,
    // Streamed records from the future are skipped one by one; the page still applies and the stream advances.
    store: input.clockGuard.guardStore(input.store, "stream"),
    clock: input.clock,
    random: createRandom(randomInt(0, 2 ** 32)),
    log: input.log.child({ component: "topology" }),
    addressOf: input.addressOf,
    stopping: input.isStopping,
    ringStart,
    streamOptions: { bytesPerSecondMax: config.streamBytesPerS, concurrentStreamsMax: config.streamsMax },
  });
}
