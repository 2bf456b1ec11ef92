// net/replica-client-defaults.ts — the replica client's bounds, each with its reason, apart from
// the client so the node can read them.

export const REPLICA_CLIENT_DEFAULTS = {
  /**
   * Keep-alive connections per peer; coalesced requests need few (see requestsInFlightPerPeerMax),
   * a spare covers a reconnect.
   */
  connectionsPerPeer: 4,
  /**
   * Requests in flight to one peer; more operations wait and leave together when one returns. One:
   * against four, batches grew from 7.5 to 12.5 operations per PUT request and 3.4 to 6 per GET
   * request at 64 clients, GET node CPU per operation fell 11%, and the p99 at 4,500 PUT/s fell
   * from ~15 to ~10 ms (bench/cpu-per-op.ts, side by side).
   */
  requestsInFlightPerPeerMax: 1,
  /**
   * Operations waiting for one peer; past it new ones fail at once. ~0.1 s of a busy peer's
   * traffic.
   */
  queuedOpsPerPeerMax: 8_192,
  /** Peers with an open pool; beyond it the first idle one is closed. */
  peersMax: 1_024,
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: 30_000,
  /** A dead host should not hold a connection attempt for the whole request deadline. */
  connectTimeoutMs: 1_000,
  /**
   * A request's own timeout, in request deadlines. Longer than the coordinator's deadline, so an
   * unanswered operation is reported by the coordinator as a timeout (not as a transport failure
   * racing it), yet bounded, so a stalled peer's connections are freed for the queue behind them.
   */
  backstopTimeoutDeadlines: 2,
} as const;
