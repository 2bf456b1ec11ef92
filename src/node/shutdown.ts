// node/shutdown.ts — a node's shutdown (SPEC §1, issue 21 §3), the reverse of its start, in the
// order a rolling restart needs:
//
//   1. draining: /ready answers 503 `draining` and every new request 503 `draining` (markStopping);
//   2. stop ticking, and announce: gossip `shutdown` and push it to every live peer at once,
//      waiting at most announceMs for their answers, so peers count this node down now (and write
//      hints for it) instead of convicting it by silence seconds later, and stop sending it replica
//      requests;
//   3. linger for lingerMs: requests arriving on open keep-alive connections are answered 503
//      `draining` with `Connection: close`, so their clients learn to go elsewhere before the
//      listener closes. A request sent just as the listener closes (into the accept backlog, or on
//      an idle keep-alive connection being closed) fails with a reset the client cannot tell from a
//      lost request: bench/rolling-restart.ts saw 2-3 such resets in ~8,000 operations, with or
//      without the linger, from a client that went back to the node at once; none from a client
//      that keeps away from a node for a second after it refused, which the linger gives the chance
//      to learn;
//   4. stop accepting connections and finish the requests in flight (fastify close), for at most
//      drainMs; past it the remaining connections are closed;
//   5. let hint replays and read repairs settle, close the clients;
//   6. close the store last, once every acknowledged write, hint and batch is committed.
//
// The announcement comes before the drain, not after: peers that hear it stop routing new work here
// while the requests already here finish, so nothing is refused that could have gone elsewhere. It
// changes no ring (Cassandra's `shutdown`, not `leaving`): the node keeps its tokens, and its
// restart's newer generation brings it up again. A failed start runs the same steps without the
// announcement (it has told nobody it exists), so it leaves nothing open behind it.

import type { FastifyInstance } from "fastify";
import type { Clock } from "../core/clock.js";
import type { Logger } from "./logger.js";
import type { NodeCore } from "./node-parts.js";

export const SHUTDOWN_LIMITS = {
  /**
   * Requests in flight get this long to finish once the node stops accepting. A coordinator's
   * request ends within its request timeout (2 s by default); this leaves room for slow clients'
   * bodies.
   */
  drainMs: 10_000,
  /**
   * The announcement waits this long at most for peers' answers: a dead or slow peer does not hold
   * the stop.
   */
  announceMs: 1_000,
  /**
   * Open connections are answered 503 `draining` and closed by their response for this long before
   * the server stops accepting (step 3): long enough for a busy client to send on each of its
   * connections.
   */
  lingerMs: 500,
} as const;

/**
 * The parts shutdown closes, and the flag it raises first. The HTTP server, when the node has one.
 */
export type ClosableParts = Pick<
  NodeCore,
  | "log"
  | "clock"
  | "tickLoop"
  | "handoff"
  | "fallbacks"
  | "readRepair"
  | "antiEntropy"
  | "repairClient"
  | "topology"
  | "replicaClient"
  | "peerClient"
  | "knownPeersWriter"
  | "metadataSaved"
  | "store"
  | "recovery"
> & { readonly app?: FastifyInstance };

export interface CloseOptions {
  /** Tell the peers (a stop); false for a failed start, which nobody has heard of. */
  readonly announce: boolean;
}

export async function closeNode(
  parts: ClosableParts,
  markStopping: () => void,
  options: CloseOptions = { announce: false },
): Promise<void> {
  const { log } = parts;
  markStopping();
  parts.tickLoop.cancel();
  if (options.announce) await announce(parts);
  if (options.announce && parts.app !== undefined)
    await pause(parts.clock, SHUTDOWN_LIMITS.lingerMs);
  if (parts.app !== undefined) await drain(parts.app, parts.clock, log);
  // Replays and repairs still use the replica client; they end (or fail) before it closes.
  await parts.handoff.close();
  await parts.fallbacks.handoff.close();
  await parts.readRepair.settled();
  await parts.antiEntropy.close();
  await parts.repairClient.close();
  await parts.topology?.close();
  await parts.replicaClient.close();
  await parts.peerClient.close();
  await parts.knownPeersWriter?.flushed();
  // A bucket property learned just before the stop is served at the next start without a peer.
  await parts.metadataSaved();
  // Last: queued writes and hints commit before the database closes (store.close drains its queue).
  const closed = await parts.store.close().then(
    () => true,
    (error: unknown) => {
      log.warn({ err: error }, "store did not close cleanly");
      return false;
    },
  );
  // A failed start ran no node: what the last run left stays as the next start's evidence.
  if (closed && options.announce) await parts.recovery.markCleanStop();
}

async function announce(parts: Pick<ClosableParts, "log" | "clock" | "tickLoop">): Promise<void> {
  const { log, clock } = parts;
  const started = clock.nowMs();
  let peers = 0;
  const told = parts.tickLoop.announceShutdown().then((count) => {
    peers = count;
  });
  const answered = await within(clock, SHUTDOWN_LIMITS.announceMs, told);
  log.info(
    { peers, answered, ms: Math.round(clock.nowMs() - started) },
    "shutdown announced to peers",
  );
}

/**
 * Stops accepting and waits for the requests in flight, at most drainMs; then closes what is left.
 */
async function drain(app: FastifyInstance, clock: Clock, log: Logger): Promise<void> {
  const started = clock.nowMs();
  const closed = app
    .close()
    .catch((error: unknown) => log.warn({ err: error }, "http server did not close cleanly"));
  if (!(await within(clock, SHUTDOWN_LIMITS.drainMs, closed))) {
    log.warn(
      { drainMs: SHUTDOWN_LIMITS.drainMs },
      "requests still in flight after the drain time: closing their connections",
    );
    app.server.closeAllConnections();
    await closed;
  }
  log.info({ ms: Math.round(clock.nowMs() - started) }, "requests drained");
}

function pause(clock: Clock, ms: number): Promise<void> {
  return new Promise<void>((resolve) => clock.schedule(ms, resolve));
}

/** True when `work` settles within `ms` on the clock, false when the time runs out first. */
function within(clock: Clock, ms: number, work: Promise<void>): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const cancel = clock.schedule(ms, () => resolve(false));
    void work.then(() => {
      cancel();
      resolve(true);
    });
  });
}
