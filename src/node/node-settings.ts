// node/node-settings.ts — the node shell's own bounds and housekeeping periods, gathered so they
// can be read together (ARCHITECTURE §6.3); the protocol cores' limits live with the cores.

import type { NodeConfig } from "./config.js";

/** Bounds of the HTTP server; each is what a healthy client or peer never comes near. */
export const NODE_LIMITS = {
  /**
   * A request (headers and body) must arrive within this, else 408; a stalled client cannot hold a
   * socket forever.
   */
  httpRequestTimeoutMs: 30_000,
  /**
   * How often the request deadlines are checked: a stalled request is answered at most this late.
   */
  httpTimeoutCheckIntervalMs: 1_000,
  /**
   * Request line and headers past this are refused with 431 (Node's default; our clients send well
   * under 1 KiB).
   */
  httpHeaderBytesMax: 16_384,
  /** Idle keep-alive connections are closed after this; peers reconnect on their next message. */
  httpKeepAliveTimeoutMs: 15_000,
  /**
   * Open sockets past this are refused at once (Node closes them), so a flood cannot exhaust fds.
   */
  httpConnectionsMax: 4_096,
  /** A plugin that takes longer than this to register fails the start instead of hanging it. */
  pluginTimeoutMs: 10_000,
} as const;

/** How often the node does its housekeeping (on the tick, not on timers of its own). */
export const NODE_MAINTENANCE = {
  /** The store's load goes to the engine this often; the engine gossips it only when it changed. */
  loadReportIntervalMs: 5_000,
  /** Tombstones past their grace period are purged this often: hourly, as a background scan. */
  tombstonePurgeIntervalMs: 3_600_000,
  /** An address lookup for an unknown member rebuilds the address book at most this often. */
  addressRefreshIntervalMs: 1_000,
  /**
   * Refused requests are logged as one count a minute (refusal-tally.ts): often enough to match a
   * client's errors to the node's log, rare enough that a flood of refusals is one line.
   */
  refusalReportIntervalMs: 60_000,
} as const;

/** Peer messages are datagrams: a late one is worth nothing after the next round has gone out. */
export function peerRequestTimeoutMs(
  config: Pick<NodeConfig, "requestTimeoutMs" | "gossipIntervalMs">,
): number {
  return Math.min(config.requestTimeoutMs, config.gossipIntervalMs);
}
