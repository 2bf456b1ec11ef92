// api/metrics-listing.ts — key listing (issue 17 §4): the listings this node coordinated and the
// keys they gave clients, and the replica pages it served to other nodes' listings.

import type { Registry } from "prom-client";
import type { ListRouteStats } from "../net/list-page-routes.js";
import type { ListStats } from "./list-routes.js";
import { observedCounter } from "./metrics-observed.js";

export interface ListingSources {
  readonly listings: ListStats;
  readonly pages: ListRouteStats;
}

export function registerListing(registry: Registry, sources: ListingSources): void {
  const { listings, pages } = sources;
  observedCounter(
    registry,
    "list_requests_total",
    "Key listing pages this node coordinated (GET /buckets/:bucket/keys)",
    () => listings.listings,
  );
  observedCounter(
    registry,
    "list_keys_total",
    "Keys this node listed to clients",
    () => listings.keysListed,
  );
  observedCounter(
    registry,
    "list_failures_total",
    "Key listing pages that ended with an error line (a replica lost with none to stand in)",
    () => listings.failures,
  );
  observedCounter(
    registry,
    "list_records_visited_total",
    "Records the replica pages of this node's listings visited, of every bucket (over keys listed: " +
      "the cost of listing by scanning token ranges)",
    () => listings.recordsVisited,
  );
  observedCounter(
    registry,
    "list_pages_read_total",
    "Replica pages this node's listings read, its own included",
    () => listings.replicaPages,
  );
  observedCounter(
    registry,
    "list_replica_pages_total",
    "Replica pages of keys this node served to listings coordinated elsewhere",
    () => pages.pages,
  );
}
