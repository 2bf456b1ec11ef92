// node/build-topology.ts — ring changes (issue 5) from the node's config: bootstrap, decommission,
// removenode, cleanup and range streaming. None with an injected engine (a test double), which
// enters as normal and never changes the ring.

import { randomInt } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import { createRandom } from "../core/random.js";
import type { ClusterEngine } from "../cluster/engine.js";
import type { LevelStore } from "../storage/store.js";
import type { NodeConfig } from "./config.js";
import type { ClockGuard } from "./clock-guard.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import { createNodeTopology, type NodeTopology, type RingStart } from "./node-topology.js";

export interface NodeTopologyBuildInput {
  readonly config: NodeConfig;
  readonly identity: NodeIdentity;
  readonly engine: ClusterEngine;
  readonly store: LevelStore;
  readonly clock: Clock;
  readonly clockGuard: ClockGuard;
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly log: Logger;
  readonly isStopping: () => boolean;
  readonly ringStart: RingStart | null;
}

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
