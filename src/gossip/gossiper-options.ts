// gossip/gossiper-options.ts — the gossiper's options, its bounds with their defaults (checked
// against the wire bounds of messages.ts), and its counters.

import { assert } from "../core/assert.js";
import type { Address, NodeId } from "../core/ids.js";
import { GOSSIP_LIMITS } from "./messages.js";

/** Defaults of the gossiper's own bounds; the wire bounds are GOSSIP_LIMITS (messages.ts). */
export const GOSSIPER_DEFAULTS = {
  /** Members one node keeps; a new member beyond it is refused (counted in membersRefused). */
  membersMax: 10_000,
  /** Members with a rumor waiting to go out; beyond it new rumors are dropped (counted). */
  rumorsPendingMax: 1024,
  digestsPerMessageMax: GOSSIP_LIMITS.digestsPerMessageMax,
  deltasPerMessageMax: GOSSIP_LIMITS.deltasPerMessageMax,
  deltaBytesPerMessageMax: GOSSIP_LIMITS.deltaBytesPerMessageMax,
  appStatesPerEndpointMax: GOSSIP_LIMITS.appStatesPerEndpointMax,
} as const;

export interface GossiperOptions {
  readonly self: NodeId;
  readonly address: Address;
  /** This start's generation (ms since the epoch at start); a restart must use a larger one. */
  readonly generation: number;
  /** Seed addresses; this node's own address is ignored. */
  readonly seeds: readonly Address[];
  /** Keys whose changes are pushed at once as rumors. */
  readonly urgentKeys: readonly string[];
  readonly rumorFanout: number;
  readonly membersMax?: number;
  readonly rumorsPendingMax?: number;
  /** At most GOSSIP_LIMITS.digestsPerMessageMax. */
  readonly digestsPerMessageMax?: number;
  /** At most GOSSIP_LIMITS.deltasPerMessageMax. */
  readonly deltasPerMessageMax?: number;
  /**
   * At most GOSSIP_LIMITS.deltaBytesPerMessageMax; one state is always sent even if it alone
   * exceeds this.
   */
  readonly deltaBytesPerMessageMax?: number;
  /** At most GOSSIP_LIMITS.appStatesPerEndpointMax. */
  readonly appStatesPerEndpointMax?: number;
}

/** The bounds a gossiper runs with: every optional limit, defaulted. */
export type GossiperLimits = Required<
  Pick<
    GossiperOptions,
    | "membersMax"
    | "rumorsPendingMax"
    | "digestsPerMessageMax"
    | "deltasPerMessageMax"
    | "deltaBytesPerMessageMax"
    | "appStatesPerEndpointMax"
  >
>;

export interface GossiperStats {
  readonly rounds: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Messages from this node itself. */
  readonly messagesIgnored: number;
  /** Rumor messages sent (each target counts). */
  readonly rumorsSent: number;
  /** Rumors not queued because rumorsPendingMax members already had one waiting. */
  readonly rumorsDropped: number;
  /**
   * Delta entries ignored: about this node, an older generation, or a partial state of a member not
   * held.
   */
  readonly deltasIgnored: number;
  /** States refused because their member already had appStatesPerEndpointMax keys. */
  readonly statesRefused: number;
  /** New members refused because membersMax were known. */
  readonly membersRefused: number;
}

export type MutableStats = { -readonly [K in keyof GossiperStats]: number };

/** The options' limits, defaulted and checked against the wire bounds of GOSSIP_LIMITS. */
export function resolveLimits(options: GossiperOptions): GossiperLimits {
  const l = {
    membersMax: options.membersMax ?? GOSSIPER_DEFAULTS.membersMax,
    rumorsPendingMax: options.rumorsPendingMax ?? GOSSIPER_DEFAULTS.rumorsPendingMax,
    digestsPerMessageMax: options.digestsPerMessageMax ?? GOSSIPER_DEFAULTS.digestsPerMessageMax,
    deltasPerMessageMax: options.deltasPerMessageMax ?? GOSSIPER_DEFAULTS.deltasPerMessageMax,
    deltaBytesPerMessageMax:
      options.deltaBytesPerMessageMax ?? GOSSIPER_DEFAULTS.deltaBytesPerMessageMax,
    appStatesPerEndpointMax:
      options.appStatesPerEndpointMax ?? GOSSIPER_DEFAULTS.appStatesPerEndpointMax,
  };
  assert(l.membersMax >= 1, "membersMax counts this node");
  assert(l.rumorsPendingMax >= 1, "rumorsPendingMax is positive");
  assert(
    l.digestsPerMessageMax >= 1 && l.digestsPerMessageMax <= GOSSIP_LIMITS.digestsPerMessageMax,
    "digestsPerMessageMax within the wire bound",
  );
  assert(
    l.deltasPerMessageMax >= 1 && l.deltasPerMessageMax <= GOSSIP_LIMITS.deltasPerMessageMax,
    "deltasPerMessageMax within the wire bound",
  );
  assert(
    l.deltaBytesPerMessageMax >= 1 &&
      l.deltaBytesPerMessageMax <= GOSSIP_LIMITS.deltaBytesPerMessageMax,
    "deltaBytesPerMessageMax within the wire bound",
  );
  assert(
    l.appStatesPerEndpointMax >= 1 &&
      l.appStatesPerEndpointMax <= GOSSIP_LIMITS.appStatesPerEndpointMax,
    "appStatesPerEndpointMax within the wire bound",
  );
  return l;
}
