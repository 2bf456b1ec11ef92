// time/clock-offset.ts — how far each peer's wall clock is from ours, and whether ours is too far
// off to keep stamping writes.
//
// Theory of operation. Last-write-wins trusts wall clocks: a node whose clock runs an hour ahead
// stamps writes that beat every honest write for an hour (issue 14 §2). CockroachDB's answer,
// followed here, is to measure every peer's offset continuously and to take a node whose clock is
// off from most of the cluster out of service (its max-offset; Cockroach kills the process, we
// fence writes).
//
// Measurement (NTP's on-wire exchange, RFC 5905 §8). A heartbeat carries the sender's wall time t0;
// the receiver notes its wall time t1 on arrival and t2 as it replies, and the reply carries both
// back; the sender notes t3 when the reply arrives. Then
//     offset = ((t1 − t0) + (t2 − t3)) / 2      (peer's clock minus ours)
//     roundTrip = (t3 − t0) − (t2 − t1)         (time on the wire, the peer's own delay removed)
// and the true offset lies within offset ± roundTrip / 2 whatever the asymmetry of the two legs, as
// long as both clocks ran at the same rate during the exchange. That half round trip is the error
// bound of a sample. t0 and t3 are read from our wall clock, so a step of our clock mid-exchange
// can make the round trip negative: such a sample says nothing and is dropped.
//
// Keeping samples (NTP's clock filter, simplified). Per peer the tracker keeps the samples of the
// last sampleWindowMs (monotonic time, of our own clock) and trusts the one with the smallest round
// trip: its error bound is the tightest, and a queueing delay only ever widens a bound. Samples
// older than the window are forgotten, so a peer whose clock was fixed is seen fixed within one
// window, and a peer we stopped hearing from stops voting.
//
// Verdict. A peer is out of range when |offset| − errorBound > maxOffsetMs: even the most
// favourable reading of the sample puts the clocks further apart than allowed. This node is fenced
// when more than half of the peers it measured are out of range (CockroachDB's "offset from a
// majority of the cluster"): in a three-node cluster with one bad clock, the bad node sees both
// peers out of range and fences itself, each good node sees one of two and keeps serving. With a
// single measured peer the majority is that peer, so in a two-node cluster a disagreement fences
// both: there is no way to tell which clock is wrong, and refusing writes is the safe side. A node
// that measured nobody (alone, or just started) is not fenced: there is nothing to compare against.
// The majority is of the peers measured or of the peers the caller expects to measure (its live
// monitors), whichever is larger: a healthy node that has so far heard back only from the one bad
// clock among its two peers (they started together) must not fence itself on 1 of 1.
//
// Pure: every time is an argument (wall times for the exchange, monotonic nowMs for ageing).

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";

export const CLOCK_OFFSET_DEFAULTS = {
  /** CockroachDB's --max-offset default: 500 ms between any two clocks. */
  maxOffsetMs: 500,
  /**
   * Samples older than this are forgotten: a few heartbeat rounds, so a fixed clock is seen soon.
   */
  sampleWindowMs: 5_000,
  /** Samples kept per peer inside the window (heartbeats arrive ~2 per second). */
  samplesPerPeerMax: 32,
  /** Peers tracked; more are ignored (ids come from the wire, and a node has few monitors). */
  peersMax: 1_024,
} as const;

export interface ClockOffsetOptions {
  readonly maxOffsetMs?: number;
  readonly sampleWindowMs?: number;
  readonly samplesPerPeerMax?: number;
  readonly peersMax?: number;
}

/** One NTP exchange: t0 and t3 on our wall clock, t1 and t2 on the peer's, all in ms. */
export interface ExchangeTimes {
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
}

export interface OffsetSample {
  /** The peer's clock minus ours (ms). */
  readonly offsetMs: number;
  /** Half the round trip: the true offset is within offsetMs ± errorMs. */
  readonly errorMs: number;
  /** When it was taken, on our monotonic clock. */
  readonly atMs: number;
}

export interface PeerOffset extends OffsetSample {
  readonly peer: NodeId;
  /** |offset| − error > maxOffsetMs. */
  readonly outOfRange: boolean;
}

export interface ClockVerdict {
  /** False while this node's clock is off from more than half of the peers it measured. */
  readonly inRange: boolean;
  readonly maxOffsetMs: number;
  readonly measured: number;
  readonly outOfRange: number;
  /** The best fresh sample of each measured peer, by peer id. */
  readonly peers: readonly PeerOffset[];
}

/** The sample an exchange gives, or null when it is unusable (a clock stepped mid-exchange). */
export function sampleOf(times: ExchangeTimes, atMs: number): OffsetSample | null {
  const { t0, t1, t2, t3 } = times;
  if (![t0, t1, t2, t3, atMs].every(Number.isFinite)) return null;
  const roundTripMs = t3 - t0 - (t2 - t1);
  // A negative round trip or a peer that replied before it received: one of the clocks stepped.
  if (roundTripMs < 0 || t2 < t1 || t3 < t0) return null;
  return { offsetMs: (t1 - t0 + (t2 - t3)) / 2, errorMs: roundTripMs / 2, atMs };
}

/** Whether a sample proves the two clocks further apart than maxOffsetMs. */
export function isOutOfRange(
  sample: Pick<OffsetSample, "offsetMs" | "errorMs">,
  maxOffsetMs: number,
): boolean {
  return Math.abs(sample.offsetMs) - sample.errorMs > maxOffsetMs;
}

export class ClockOffsetTracker {
  readonly maxOffsetMs: number;
  private readonly sampleWindowMs: number;
  private readonly samplesPerPeerMax: number;
  private readonly peersMax: number;
  private readonly samples = new Map<NodeId, OffsetSample[]>();
  private dropped = 0;

  constructor(options: ClockOffsetOptions = {}) {
    this.maxOffsetMs = options.maxOffsetMs ?? CLOCK_OFFSET_DEFAULTS.maxOffsetMs;
    this.sampleWindowMs = options.sampleWindowMs ?? CLOCK_OFFSET_DEFAULTS.sampleWindowMs;
    this.samplesPerPeerMax = options.samplesPerPeerMax ?? CLOCK_OFFSET_DEFAULTS.samplesPerPeerMax;
    this.peersMax = options.peersMax ?? CLOCK_OFFSET_DEFAULTS.peersMax;
    assert(this.maxOffsetMs > 0, "maxOffsetMs must be positive");
    assert(this.sampleWindowMs > 0, "sampleWindowMs must be positive");
    assert(
      Number.isInteger(this.samplesPerPeerMax) && this.samplesPerPeerMax >= 1,
      "samplesPerPeerMax must be at least 1",
    );
  }

  /** Records one exchange with `peer`; false when the exchange was unusable (counted). */
  record(peer: NodeId, times: ExchangeTimes, nowMs: number): boolean {
    const sample = sampleOf(times, nowMs);
    if (sample === null) {
      this.dropped += 1;
      return false;
    }
    let list = this.samples.get(peer);
    if (list === undefined) {
      if (this.samples.size >= this.peersMax) this.forget(nowMs);
      if (this.samples.size >= this.peersMax) {
        this.dropped += 1;
        return false;
      }
      list = [];
      this.samples.set(peer, list);
    }
    list.push(sample);
    // Oldest first: past the bound the oldest goes, whatever its round trip.
    if (list.length > this.samplesPerPeerMax) list.shift();
    return true;
  }

  /** The best fresh sample of a peer: the smallest round trip within the window. */
  best(peer: NodeId, nowMs: number): OffsetSample | undefined {
    const list = this.samples.get(peer);
    if (list === undefined) return undefined;
    let best: OffsetSample | undefined;
    for (const sample of list) {
      if (nowMs - sample.atMs > this.sampleWindowMs) continue;
      if (
        best === undefined ||
        sample.errorMs < best.errorMs ||
        (sample.errorMs === best.errorMs && sample.atMs > best.atMs)
      ) {
        best = sample;
      }
    }
    return best;
  }

  /** Whether this node's clock is in range of most peers it measured recently (see the header). */
  verdict(nowMs: number, expectedPeers = 0): ClockVerdict {
    this.forget(nowMs);
    const peers: PeerOffset[] = [];
    let outOfRange = 0;
    for (const peer of [...this.samples.keys()].sort()) {
      const best = this.best(peer, nowMs);
      if (best === undefined) continue;
      const out = isOutOfRange(best, this.maxOffsetMs);
      if (out) outOfRange += 1;
      peers.push({ peer, ...best, outOfRange: out });
    }
    const measured = peers.length;
    const voters = Math.max(measured, expectedPeers);
    // More than half: 2 of 2, 2 of 3, 1 of 1; not 1 of 2 (the bad peer is the other one).
    const inRange = !(measured > 0 && outOfRange * 2 > voters);
    return { inRange, maxOffsetMs: this.maxOffsetMs, measured, outOfRange, peers };
  }

  /** Exchanges dropped as unusable or over the peer bound. */
  droppedSamples(): number {
    return this.dropped;
  }

  /** Forgets samples older than the window, and peers left with none. */
  private forget(nowMs: number): void {
    for (const [peer, list] of this.samples) {
      const fresh = list.filter((sample) => nowMs - sample.atMs <= this.sampleWindowMs);
      if (fresh.length === 0) this.samples.delete(peer);
      else if (fresh.length !== list.length) this.samples.set(peer, fresh);
    }
  }
}

/**
 * A timestamp (µs) further ahead of our wall clock than the allowed offset: a record from the
 * future.
 */
export function isFromTheFuture(timestampUs: number, wallUs: number, maxOffsetUs: number): boolean {
  return timestampUs - wallUs > maxOffsetUs;
}
