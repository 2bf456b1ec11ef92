// node/build-cluster.ts — this node's view of the cluster: how this start enters the ring, the
// membership engine (given the members and tombstones this node saved: topology/known-peers.ts),
// and the wait for the ring to be learned (with the known peers a restart waits for). An injected
// engine (a test double) enters as normal at once, waits for no one and saves nothing.

import { randomInt } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { createRandom } from "../core/random.js";
import type { ClusterEngine, ClusterEngineFactory } from "../cluster/engine.js";
import { createClusterEngine } from "../cluster/cluster-view.js";
import { RingSettle } from "../cluster/ring-settle.js";
import type { ClusterMetadata } from "../cluster/metadata.js";
import type { LevelStore } from "../storage/store.js";
import {
  KNOWN_PEERS_FILE,
  knownPeersOf,
  KnownPeersWriter,
  NO_KNOWN_PEERS,
  readKnownPeers,
  savedMembershipOf,
  tombstoneStamps,
  writeKnownPeers,
  type KnownPeers,
} from "../topology/known-peers.js";
import type { NodeConfig } from "./config.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import type { NodeDeps } from "./node-ports.js";
import { planRingStart, type RingStart } from "./node-topology.js";
import { NodeStartError } from "./start-errors.js";

export interface NodeClusterInput {
  readonly config: NodeConfig;
  readonly ports: NodeDeps;
  readonly identity: NodeIdentity;
  readonly store: LevelStore;
  readonly clock: Clock;
  /** The wall clock (µs): the age of saved tombstones. */
  readonly wallUs: () => number;
  readonly log: Logger;
  /** The cluster metadata the engine gossips (build-metadata.ts). */
  readonly metadata?: ClusterMetadata;
}

export interface NodeCluster {
  readonly engine: ClusterEngine;
  /**
   * How this start entered the ring; null with an injected engine (then there is no topology
   * service).
   */
  readonly ringStart: RingStart | null;
  readonly ringSettle: RingSettle;
  /** When the engine was created: the origin of the ring-learned log line's afterMs. */
  readonly startedMs: number;
  /** The engine's seed, logged at debug when the chance was not injected. */
  readonly randomSeed: number;
  readonly knownPeersWriter: KnownPeersWriter | null;
  /** Saves the peers of a settled view (and its tombstones), for the next start. */
  readonly saveKnownPeers: () => void;
}

export async function buildCluster(input: NodeClusterInput): Promise<NodeCluster> {
  const { config, ports, identity, clock } = input;
  const randomSeed = randomInt(0, 2 ** 32);
  const random = ports.random ?? ports.randomFor?.("engine") ?? createRandom(randomSeed);
  const createEngine: ClusterEngineFactory = ports.createEngine ?? createClusterEngine;
  const ringStart = ports.createEngine === undefined ? await planNodeRingStart(input) : null;
  const knownPeers = await readNodeKnownPeers(input);
  const startedMs = clock.nowMs();
  const engine: ClusterEngine = createEngine(
    {
      id: identity.id,
      address: config.advertise,
      generation: identity.generation,
      tokens: ringStart?.tokens ?? identity.tokens,
      status: ringStart?.status ?? "normal",
      seeds: config.seeds,
      replicationFactor: config.replicationFactor,
      gossipIntervalMs: config.gossipIntervalMs,
      phiThreshold: config.phiThreshold,
      saved: savedMembershipOf(knownPeers, input.wallUs() / 1000),
      ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
    },
    random,
  );
  const settle = buildRingSettle(input, knownPeers, startedMs);
  const stamps = tombstoneStamps(knownPeers);
  // Only a settled view is saved: a half-learned one must not replace the list a restart waits for.
  const saveKnownPeers = (): void => {
    if (
      settle.knownPeersWriter === null ||
      !settle.ringSettle.settled ||
      engine.savedMembership === undefined
    )
      return;
    const { state, expired } = knownPeersOf(
      engine.savedMembership(),
      stamps,
      input.wallUs() / 1000,
    );
    if (expired.length > 0) engine.forgetTombstones?.(expired);
    settle.knownPeersWriter.update(state);
  };
  return { engine, ringStart, startedMs, randomSeed, ...settle, saveKnownPeers };
}

/** peers.json, read before the engine is made; unreadable is logged and the start goes on. */
async function readNodeKnownPeers({ config, ports, log }: NodeClusterInput): Promise<KnownPeers> {
  if (ports.createEngine !== undefined) return NO_KNOWN_PEERS;
  const knownPeers = await readKnownPeers(config.dataDir, ports.stateFiles);
  if (knownPeers === "unreadable")
    log.warn(
      { file: KNOWN_PEERS_FILE },
      "known peers file unreadable: waiting for a peer before serving",
    );
  return knownPeers;
}

/**
 * How this start enters the ring (topology/, issue 5): normal at once (a restart, a node without
 * seeds) or joining, to bootstrap once it serves. An injected engine (a test double) is always
 * normal.
 */
async function planNodeRingStart({
  config,
  ports,
  identity,
  store,
}: NodeClusterInput): Promise<RingStart> {
  try {
    return await planRingStart({
      files: ports.stateFiles,
      dataDir: config.dataDir,
      advertise: config.advertise,
      seeds: config.seeds,
      identityCreated: identity.created,
      identityTokens: identity.tokens,
    });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new NodeStartError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Client requests wait until the ring is learned (cluster/ring-settle.ts), including every peer
 * this node knew before (topology/known-peers.ts); a new cluster's first node, or one with an
 * injected engine (a test double), has nothing to wait for.
 */
function buildRingSettle(
  { config, ports, identity, log }: NodeClusterInput,
  knownPeers: KnownPeers,
  startedMs: number,
): { ringSettle: RingSettle; knownPeersWriter: KnownPeersWriter | null } {
  const injectedEngine = ports.createEngine !== undefined;
  const ringSettle = new RingSettle({
    startedMs,
    quietMs: 2 * config.gossipIntervalMs,
    alone:
      injectedEngine ||
      (knownPeers !== "unreadable" && config.seeds.every((seed) => seed === config.advertise)),
    expectedPeers:
      knownPeers === "unreadable" ? [] : knownPeers.peers.filter((id) => id !== identity.id),
  });
  const knownPeersWriter = injectedEngine
    ? null
    : new KnownPeersWriter({
        initial: knownPeers,
        write: (state) => writeKnownPeers(config.dataDir, state, ports.stateFiles),
        onError: (error) =>
          log.warn({ err: error, file: KNOWN_PEERS_FILE }, "could not save the known peers"),
      });
  return { ringSettle, knownPeersWriter };
}
