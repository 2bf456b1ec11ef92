// net/list-page-routes.ts — the route through which a node serves one page of a bucket's keys to
// the coordinator of a key listing (net/list-protocol.ts, issue 17 §4). A route group
// (net/node-route.ts): fastify mounts it (mountNodeRoutes), guarded like every node-to-node route
// (net/route-guard.ts: secret or certificate, msgpack, size), then checked against the schema and
// for a valid bucket name and resume key. The page comes from the store's token-ordered scan
// (storage/bucket-scan.ts), bounded in keys and in records visited.

import { GrapevineError } from "../core/errors.js";
import { bucketNameProblem } from "../storage/bucket-keys.js";
import { scanBucketPage } from "../storage/bucket-scan.js";
import type { Store } from "../storage/store.js";
import { encodePeerBody } from "./codec.js";
import {
  LIST_PAGE_PATH,
  LIST_PROTOCOL_LIMITS,
  listPageRequestCheck,
  listViolation,
  pageToWire,
  requestFromWire,
} from "./list-protocol.js";
import { decodeNodeBody, msgpackAnswer, requireBody, type NodeRouteGroup } from "./node-route.js";
import { isValidReplicaKey } from "./replica-protocol.js";

/** Counters of the list route, read by the metrics. */
export class ListRouteStats {
  pages = 0;
  keysSent = 0;
  refusedMalformed = 0;
  refusedUnauthorized = 0;
}

export interface ListPageRoutesOptions {
  readonly clusterSecret: string | null;
  readonly store: Pick<Store, "scanRange">;
  readonly stats: ListRouteStats;
  /** This node's wall clock (µs): an expired value is listed as deleted by it. */
  readonly nowUs: () => number;
}

function refuse(why: string): GrapevineError {
  return new GrapevineError("bad_request", `bad list page request: ${why}`);
}

/** The list route without its HTTP server (fastify mounts it with mountNodeRoutes). */
export function listPageRouteGroup(options: ListPageRoutesOptions): NodeRouteGroup {
  const { store, stats, nowUs } = options;
  return {
    clusterSecret: options.clusterSecret,
    stats,
    what: "list",
    routes: [
      {
        path: LIST_PAGE_PATH,
        bodyLimit: LIST_PROTOCOL_LIMITS.requestBytesMax,
        handle: async (raw) => {
          const decoded = decodeNodeBody(requireBody(raw, "a list page request"));
          if (!listPageRequestCheck.Check(decoded))
            throw refuse(listViolation(listPageRequestCheck, decoded));
          const problem = bucketNameProblem(decoded.bucket);
          if (problem !== null) throw refuse(problem);
          if (decoded.after !== undefined && !isValidReplicaKey(decoded.after[1]))
            throw refuse("after is not 1 to 1024 bytes of UTF-8");
          const page = await scanBucketPage(store, requestFromWire(decoded), nowUs());
          stats.pages += 1;
          stats.keysSent += page.entries.length;
          return msgpackAnswer(encodePeerBody(pageToWire(page)));
        },
      },
    ],
  };
}
