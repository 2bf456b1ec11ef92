// node/node-topology.ts — what node/node.ts needs to run ring changes, gathered so the node's
// composition stays a few lines: how this start enters the ring (planRingStart, before the engine
// exists), and the service, its routes and its client once the engine does (createNodeTopology).

import type { FastifyInstance } from "fastify";
import type { Clock } from "../core/clock.js";
import type { Address, MemberStatus, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import { isTopologyEngine, type ClusterEngine } from "../cluster/engine.js";
import type { Token } from "../ring/partitioner.js";
import type { Store } from "../storage/store.js";
import { StreamClient } from "../net/stream-client.js";
import type { NodeRouteGroup } from "../net/node-route.js";
import { mountNodeRoutes } from "../net/route-guard.js";
import { streamRouteGroup, StreamRouteStats } from "../net/stream-routes.js";
import { topologyRoutes } from "../api/topology-routes.js";
import type { Logger } from "./logger.js";
import { planStart, type StartPlan } from "../topology/bootstrap.js";
import { TOPOLOGY_DEFAULTS, type TopologyOptions } from "../topology/ring-change.js";
import { readRingState, writeRingState } from "../topology/ring-state.js";
import type { PeerHttp } from "../net/peer-http.js";
import type { PeerTls } from "../net/peer-tls.js";
import type { StateFiles } from "../storage/state-files.js";
import { TopologyService } from "../topology/topology-service.js";
import type { StreamOptions } from "../topology/stream.js";

export interface RingStart {
  readonly plan: StartPlan;
  /** The engine's first tokens and status. */
  readonly tokens: readonly Token[];
  readonly status: MemberStatus;
  readonly isSeed: boolean;
}

export interface PlanRingStartInput {
  readonly dataDir: string;
  /** ring.json's home: the data dir's state files unless given (the simulator's disk). */
  readonly files?: StateFiles | undefined;
  readonly advertise: Address;
  readonly seeds: readonly Address[];
  readonly identityCreated: boolean;
  readonly identityTokens: readonly Token[];
}

/** Reads ring.json and decides: normal at once (persisting it when new), or bootstrap. */
export async function planRingStart(input: PlanRingStartInput): Promise<RingStart> {
  const ringState = await readRingState(input.dataDir, input.files);
  const otherSeeds = input.seeds.filter((seed) => seed !== input.advertise).length;
  const plan = planStart({
    ringState,
    identityCreated: input.identityCreated,
    identityTokens: input.identityTokens,
    otherSeeds,
  });
  const isSeed = input.seeds.includes(input.advertise);
  if (plan.kind === "normal") {
    if (plan.persist) {
      await writeRingState(input.dataDir, { status: "normal", tokens: plan.tokens }, input.files);
    }
    return { plan, tokens: plan.tokens, status: "normal", isSeed };
  }
  return { plan, tokens: plan.resumeTokens ?? [], status: "joining", isSeed };
}

export interface NodeTopologyInput {
  readonly self: NodeId;
  readonly dataDir: string;
  readonly files?: StateFiles | undefined;
  readonly http?: PeerHttp | undefined;
  /** With --certs-dir: the mutual TLS the node's clients speak to peers (node/node-tls.ts). */
  readonly peerTls?: PeerTls | undefined;
  readonly replicationFactor: number;
  readonly vnodes: number;
  readonly gossipIntervalMs: number;
  readonly clusterSecret: string | null;
  readonly engine: ClusterEngine;
  readonly store: Pick<Store, "scanRange" | "apply" | "deleteRange">;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly stopping: () => boolean;
  readonly ringStart: RingStart;
  readonly options?: Partial<TopologyOptions>;
  readonly streamOptions?: Partial<StreamOptions>;
}

export interface NodeTopology {
  readonly service: TopologyService;
  readonly routeStats: StreamRouteStats;
  /**
   * Resolves when a ring change ends this node: 0 after a decommission, 1 after a failed bootstrap.
   */
  readonly exitRequested: Promise<{ code: number; reason: string }>;
  register(app: FastifyInstance): Promise<void>;
  /**
   * The node-to-node routes register() mounts (the stream routes), for a server without fastify
   * (net/internal-routes.ts). The same group objects, so the counters are shared.
   */
  routeGroups(): NodeRouteGroup[];
  /**
   * Starts the bootstrap when this start needs one; call after the node serves and has ticked once.
   */
  begin(): void;
  close(): Promise<void>;
}

/**
 * Null for an engine without ring-change support (a test double): the node is then always normal.
 */
export function createNodeTopology(input: NodeTopologyInput): NodeTopology | null {
  const { engine } = input;
  if (!isTopologyEngine(engine)) return null;
  let requestExit: (outcome: { code: number; reason: string }) => void = () => undefined;
  const exitRequested = new Promise<{ code: number; reason: string }>((resolve) => {
    requestExit = resolve;
  });
  const client = new StreamClient(
    { self: input.self, clusterSecret: input.clusterSecret },
    { ...(input.http === undefined ? {} : { http: input.http }), tls: input.peerTls },
  );
  const service = new TopologyService({
    context: {
      self: input.self,
      replicationFactor: input.replicationFactor,
      vnodes: input.vnodes,
      gossipIntervalMs: input.gossipIntervalMs,
      options: { ...TOPOLOGY_DEFAULTS, ...input.options },
      engine,
      clock: input.clock,
      random: input.random,
      log: input.log,
      addressOf: input.addressOf,
      memberView: (address, member) => client.memberView(address, member),
      persist: (state) => writeRingState(input.dataDir, state, input.files),
      stopping: input.stopping,
    },
    store: input.store,
    client,
    streamOptions: input.streamOptions ?? {},
    requestExit: (code, reason) => requestExit({ code, reason }),
  });
  const routeStats = new StreamRouteStats();
  const streamGroup = streamRouteGroup({
    clusterSecret: input.clusterSecret,
    store: input.store,
    stats: routeStats,
  });
  return {
    service,
    routeStats,
    exitRequested,
    async register(app) {
      // Encapsulated, as a plugin: the stream guard's parsers and error handler stay on its routes.
      await app.register(async (scope) => mountNodeRoutes(scope, streamGroup));
      await app.register(topologyRoutes, { service });
    },
    routeGroups: () => [streamGroup],
    begin() {
      const { plan, isSeed } = input.ringStart;
      if (plan.kind === "bootstrap")
        service.startBootstrap({ isSeed, resumeTokens: plan.resumeTokens });
    },
    close: () => client.close(),
  };
}
