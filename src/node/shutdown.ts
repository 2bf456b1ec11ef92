// node/shutdown.ts — a node's shutdown (SPEC §1), the reverse of its start: stop ticking, stop
// accepting and finish in-flight requests (fastify close), let hint replays and read repairs settle,
// close the clients, and close the store last, once every acknowledged write and hint is committed.
// A failed start runs the same steps, so it leaves nothing open behind it.

import type { FastifyInstance } from "fastify";
import type { NodeCore } from "./node-parts.js";

/** The parts shutdown closes, and the flag it raises first. The HTTP server, when the node has one. */
export type ClosableParts = Pick<
  NodeCore,
  | "log"
  | "tickLoop"
  | "handoff"
  | "readRepair"
  | "antiEntropy"
  | "repairClient"
  | "topology"
  | "replicaClient"
  | "peerClient"
  | "knownPeersWriter"
  | "store"
> & { readonly app?: FastifyInstance };

export async function closeNode(parts: ClosableParts, markStopping: () => void): Promise<void> {
  const { log } = parts;
  markStopping();
  parts.tickLoop.cancel();
  await parts.app?.close().catch((error: unknown) => log.warn({ err: error }, "http server did not close cleanly"));
  // Replays and repairs still use the replica client; they end (or fail) before it closes.
  await parts.handoff.close();
  await parts.readRepair.settled();
  await parts.antiEntropy.close();
  await parts.repairClient.close();
  await parts.topology?.close();
  await parts.replicaClient.close();
  await parts.peerClient.close();
  await parts.knownPeersWriter?.flushed();
  // Last: queued writes commit before the database closes (store.close drains its queue).
  await parts.store.close().catch((error: unknown) => log.warn({ err: error }, "store did not close cleanly"));
}
