// node/build-auth.ts — the node's client authentication (issue 18 §3), wired: the token registry
// over the cluster metadata (api/token-registry.ts, whose routes every node serves), and, on a
// node that serves TLS (--certs-dir), the guard that authenticates every client and operator
// request (node/client-guard.ts) with its refusal metric. A node without --certs-dir stays open,
// as before: secure by default (refusing to start without certificates) is issue 18 §4.

import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { registerAuthRefusals } from "../api/metrics-auth.js";
import { TokenRegistry } from "../api/token-registry.js";
import type { NodeMetrics } from "../api/metrics.js";
import { clientGuard } from "./client-guard.js";
import type { NodeCore } from "./node-parts.js";

export function buildTokenRegistry(core: NodeCore): TokenRegistry {
  const { metadata, identity, hlc, wallUs } = core;
  return new TokenRegistry({
    metadata,
    self: identity.id,
    stamp: () => hlc.now(wallUs()),
    nowMs: () => wallUs() / 1000,
    randomBytes: (count) => randomBytes(count),
  });
}

/**
 * Installs the client guard on the root instance, before any route is registered (so it governs
 * every route); does nothing on a node without TLS.
 */
export function installClientGuard(
  app: FastifyInstance,
  core: NodeCore,
  tokens: TokenRegistry,
  metrics: NodeMetrics,
): void {
  if (core.tls === null) return;
  const countRefusal = registerAuthRefusals(metrics.registry);
  const guard = clientGuard({
    lookupToken: (id) => tokens.lookup(id),
    nowMs: () => core.wallUs() / 1000,
    countRefusal,
    log: core.log.child({ component: "auth" }),
    metricsOpen: core.config.metricsOpen,
  });
  app.addHook("onRequest", guard);
}
