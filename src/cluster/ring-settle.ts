// cluster/ring-settle.ts — whether a starting node has learned the ring well enough to coordinate
// client requests.
//
// A node starts knowing only itself (and its own tokens from ring.json); the other members and
// their tokens arrive by gossip over the next rounds. A coordinator that computed a key's replicas
// from that partial ring would write to, and read from, the wrong nodes: a restarted node
// acknowledged quorum writes to replicas that were not the key's, and quorum reads elsewhere missed
// them (seen in test/faults/coordinator-restart, 68 stale reads in the second after a restart). So,
// as Cassandra waits for gossip to settle before it opens its client port, a node refuses client
// requests (503 `unavailable`, reason "starting") until it has heard from a peer and its ring has
// then stayed the same for quietMs — two gossip rounds: one exchange brings every member the peer
// knows, but the peer may have just restarted too and know little, so the ring must also survive
// the next round — or settleMaxMs passed (a node whose seeds are all down must serve eventually).
// /cluster/status says `serving: false` meanwhile, so scripts and tests can wait for it.
//
// A restarted node also knows whom it knew before (topology/known-peers.ts): it waits until each of
// them is back in its view, so a peer that has not gossiped to it yet cannot be missing from the
// replica sets it computes. Peers saved with their tokens (cluster/saved-members.ts) are in the
// view from the start, down until gossip brings them, so only a file of ids alone (format 1) makes
// it wait for them; a member that stays dead then no longer holds the start for settleMaxMs. This
// matters most for the cluster's first node, which has no seeds and would otherwise have no one to
// wait for. A node with no seeds but itself and no known peers (a new cluster's first member) is
// settled at once. Once settled it stays settled: later ring changes are the ring-change protocol's
// business.
//
// Pure: the shell calls observe() every tick with the clock and what the engine reports.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";

export const RING_SETTLE_DEFAULTS = {
  /** After this long a node serves whatever it knows. */
  settleMaxMs: 15_000,
} as const;

export interface RingSettleOptions {
  readonly startedMs: number;
  /**
   * How long the ring must stay unchanged after the first message from a peer: the shell passes two
   * gossip intervals.
   */
  readonly quietMs: number;
  /** True when no other member can tell this node about the ring (no seeds but itself). */
  readonly alone: boolean;
  /** Peers this node knew before it restarted: it does not serve until each is back in its view. */
  readonly expectedPeers?: readonly NodeId[];
  readonly settleMaxMs?: number;
}

export class RingSettle {
  readonly #startedMs: number;
  readonly #quietMs: number;
  readonly #settleMaxMs: number;
  #settled: boolean;
  #fingerprint: string | null = null;
  #changedMs: number;
  /**
   * Expected peers not yet seen in the view; seen ones are dropped, so each is checked until found.
   */
  #missing: NodeId[];

  constructor(options: RingSettleOptions) {
    assert(
      Number.isFinite(options.quietMs) && options.quietMs >= 0,
      "quietMs is a non-negative number",
    );
    this.#startedMs = options.startedMs;
    this.#quietMs = options.quietMs;
    this.#settleMaxMs = options.settleMaxMs ?? RING_SETTLE_DEFAULTS.settleMaxMs;
    this.#missing = [...new Set(options.expectedPeers ?? [])];
    this.#settled = options.alone && this.#missing.length === 0;
    this.#changedMs = options.startedMs;
  }

  /**
   * Expected peers still missing from the view, for the log line of a node that gave up waiting.
   */
  get missingPeers(): readonly NodeId[] {
    return this.#missing;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /**
   * One tick: the ring's fingerprint (engine.ringFingerprint()), how many peer messages the engine
   * has accepted so far, and whether a member id is in its view. Returns whether the node is
   * settled now.
   */
  observe(
    nowMs: number,
    ringFingerprint: string,
    messagesReceived: number,
    knows: (id: NodeId) => boolean,
  ): boolean {
    if (this.#settled) return true;
    if (ringFingerprint !== this.#fingerprint) {
      this.#fingerprint = ringFingerprint;
      this.#changedMs = nowMs;
    }
    if (this.#missing.length > 0) this.#missing = this.#missing.filter((id) => !knows(id));
    const heard = messagesReceived > 0;
    const learned = heard && this.#missing.length === 0 && nowMs - this.#changedMs >= this.#quietMs;
    if (learned || nowMs - this.#startedMs >= this.#settleMaxMs) {
      this.#settled = true;
    }
    return this.#settled;
  }
}
