// node/build-listing.ts — key listing on a node (issue 17 §4): the public route
// `GET /buckets/:bucket/keys` (api/list-routes.ts) over a KeyLister (replication/key-lister.ts)
// that reads this node's pages straight from its store (storage/bucket-scan.ts) and other
// replicas' through the list client (net/list-client.ts); the node-to-node route serving those
// pages (net/list-page-routes.ts); and their metrics. Built with the HTTP edge, since only it
// lists; the list client closes with the server.

import type { FastifyInstance } from "fastify";
import { ListStats, listRoutes } from "../api/list-routes.js";
import { registerListing as registerListingMetrics } from "../api/metrics-listing.js";
import { ListClient } from "../net/list-client.js";
import { listPageRouteGroup, ListRouteStats } from "../net/list-page-routes.js";
import { mountNodeRoutes } from "../net/route-guard.js";
import { KeyLister } from "../replication/key-lister.js";
import { scanBucketPage } from "../storage/bucket-scan.js";
import { AddressBook } from "./address-book.js";
import type { NodeParts } from "./node-parts.js";

/** Registers the listing routes (public and node-to-node) and their metrics on the node's app. */
export async function registerListing(app: FastifyInstance, parts: NodeParts): Promise<void> {
  const { config, identity, store, engine, clock, wallUs } = parts;
  const self = identity.id;
  const addresses = new AddressBook(engine, clock);
  const client = new ListClient(
    { self, clusterSecret: config.clusterSecret },
    { addressOf: addresses.addressOf, ...(parts.peerTls === null ? {} : { tls: parts.peerTls }) },
  );
  app.addHook("onClose", () => client.close());
  const stats = new ListStats();
  const lister = new KeyLister({
    self,
    replicationFactor: config.replicationFactor,
    ring: () => engine.ring(),
    isLive: (node) => engine.isLive(node),
    localReadable: () => !parts.recovery.recovering(),
    onPage: (_node, page) => {
      stats.replicaPages += 1;
      stats.recordsVisited += page.visited;
    },
    transport: {
      page: (node, request) =>
        node === self ? scanBucketPage(store, request, wallUs()) : client.page(node, request),
    },
  });
  const pageStats = new ListRouteStats();
  const group = listPageRouteGroup({
    clusterSecret: config.clusterSecret,
    store,
    stats: pageStats,
    nowUs: wallUs,
  });
  // Encapsulated, as a plugin: the node-route guard's parsers and error handler stay on its route.
  await app.register(async (scope) => mountNodeRoutes(scope, group));
  await app.register(listRoutes, {
    lister,
    replicationFactor: config.replicationFactor,
    readConsistency: config.readConsistency,
    buckets: parts.buckets,
    stats,
  });
  registerListingMetrics(parts.metrics.registry, { listings: stats, pages: pageStats });
}
