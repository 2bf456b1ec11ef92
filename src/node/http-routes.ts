// node/http-routes.ts — which routes a node serves, each registered with the parts it may touch.
// The order is fastify's registration order and is kept as it was: the OpenAPI document's generator
// first (it must see every route), /ready, then the peer and cluster routes, ring changes, the
// replica and repair routes, the operator's routes, /kv, /metrics, and the web console's files.

import type { FastifyInstance } from "fastify";
import { peerRoutes } from "../net/peer-routes.js";
import { replicaRoutes } from "../net/replica-routes.js";
import { repairRoutes } from "../net/repair-routes.js";
import { adminRepairRoutes } from "../api/repair-routes.js";
import { futureRecordsRoutes } from "../api/future-records-routes.js";
import { clusterRoutes } from "../api/cluster-routes.js";
import { kvRoutes } from "../api/kv-routes.js";
import { bucketRoutes } from "../api/bucket-routes.js";
import { tokenRoutes } from "../api/token-routes.js";
import { registerListing } from "./build-listing.js";
import { metricsRoutes } from "../api/metrics.js";
import { readyRoutes } from "../api/ready-routes.js";
import { registerOpenApi } from "../api/openapi.js";
import { consoleRoutes } from "../api/console-routes.js";
import type { NodeParts } from "./node-parts.js";
import {
  clusterRouteOptions,
  peerRouteOptions,
  repairRouteOptions,
  replicaRouteOptions,
} from "./node-route-options.js";

export async function registerNodeRoutes(app: FastifyInstance, parts: NodeParts): Promise<void> {
  // First: the document learns each route as it is added.
  await registerOpenApi(app);
  await registerMembershipRoutes(app, parts);
  await registerReplicaRoutes(app, parts);
  await registerClientRoutes(app, parts);
}

async function registerMembershipRoutes(app: FastifyInstance, parts: NodeParts): Promise<void> {
  const { topology } = parts;
  await app.register(readyRoutes, { readiness: () => parts.readiness() });
  await app.register(peerRoutes, peerRouteOptions(parts));
  await app.register(clusterRoutes, clusterRouteOptions(parts));
  await topology?.register(app);
}

async function registerReplicaRoutes(app: FastifyInstance, parts: NodeParts): Promise<void> {
  await app.register(replicaRoutes, replicaRouteOptions(parts));
  await app.register(repairRoutes, repairRouteOptions(parts));
}

async function registerClientRoutes(app: FastifyInstance, parts: NodeParts): Promise<void> {
  const { config, identity, store, wallUs, hlc, clockGuard, coordinator, readRepair, metrics } =
    parts;
  await app.register(adminRepairRoutes, { repair: parts.antiEntropy });
  await app.register(futureRecordsRoutes, {
    deps: {
      self: identity.id,
      store,
      wallUs,
      maxClockOffsetUs: clockGuard.maxOffsetUs,
      stamp: () => hlc.now(wallUs()),
    },
  });
  await app.register(kvRoutes, {
    coordinator: {
      write: (request) => coordinator.write(request),
      delete: (request) => coordinator.delete(request),
      read: (request) => readRepair.read(request),
    },
    replicationFactor: config.replicationFactor,
    readConsistency: config.readConsistency,
    writeConsistency: config.writeConsistency,
    sloppyQuorum: config.sloppyQuorum,
    maxValueBytes: config.maxValueBytes,
    observer: metrics,
    buckets: parts.buckets,
    nowUs: wallUs,
  });
  await app.register(bucketRoutes, { book: parts.buckets });
  await registerListing(app, parts);
  await app.register(tokenRoutes, { registry: parts.tokens });
  await app.register(metricsRoutes, { metrics });
  await app.register(consoleRoutes);
}
