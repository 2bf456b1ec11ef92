// detector/failure-detector.ts — the monitor side: one arrival window per subject this node
// watches.
//
// Theory of operation. Each member heartbeats its k monitors directly every tick (monitors.ts picks
// them); this module is what a monitor runs on those arrivals. Liveness is kept out of gossip on
// purpose: gossip's many-hop, batched propagation adds delay and variance that a phi-accrual
// detector would then have to tolerate, while a direct heartbeat measures one link.
//
// State, per subject (at most `subjectsMax`): the generation and incarnation we know for it, an
// ArrivalWindow (phi-accrual.ts) of its arrivals, the last heartbeat sequence seen, and our vote
// against it if we have convicted it. Per detector: the last time we were called (to notice our own
// stalls), the end of the post-stall grace, and the withdrawals not yet reported.
//
// Rules:
// - Conviction (Hayashibara et al. 2004, with Akka's acceptable pause and minimum deviation): when
//   a subject's phi reaches `phiThreshold` at an evaluate(), we cast a vote carrying the evidence
//   (phi, samples, silence). The vote stands until withdrawn; it is never refreshed, so it does not
//   churn gossip. With the defaults (see PHI_ACCRUAL_DEFAULTS for the arithmetic) phi 8 is crossed
//   after ≈ 6.0–6.1 s of silence at 0–10 % loss: a crash is voted on within ≈ 6.6 s (one tick later
//   at most) and known everywhere within 8 s, while a 4 s pause plus two lost heartbeats (≤ 5.5 s)
//   stays near phi 2.
// - A member is live until convicted and live again on its next heartbeat: any fresh heartbeat
//   withdraws our vote (an "acquittal"). So do a new generation (the subject restarted: its window
//   starts over), an incarnation above the vote's (the subject refuted, SWIM-style), and the
//   subject leaving our set. Heartbeats are ordered by (generation, sequence); an older or repeated
//   one is ignored, so a reordered message neither acquits nor adds a bogus interval.
// - An incarnation bump learned from gossip is recent evidence of life, so it also restarts the
//   silence (keeping the intervals): otherwise a subject whose heartbeats cannot reach us would be
//   re-convicted at once and refute again every tick; this way the cycle is at most once per
//   detection time.
// - Stall guard: if this node itself was stalled (event-loop lag, a GC, SIGSTOP), every subject
//   looks silent for the stall's length though the silence was ours. When the gap since our
//   previous call exceeds `stallThresholdMs`, we restart every subject's silence at the current
//   time (keeping the windows' intervals; the stall gap is never recorded as an interval) and
//   convict nobody for
//   `stallGraceMs`. The price: a crash during our stall is detected that much later.
//
// Guarantees: bounded memory (`subjectsMax` windows of `windowSizeMax` intervals); votes are plain,
// finite numbers; evaluate() reports every cast and every withdrawal exactly once; the same calls
// with the same times give the same votes.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import {
  ArrivalWindow,
  assertPhiAccrualOptions,
  PHI_ACCRUAL_DEFAULTS,
  PHI_MAX,
  type PhiAccrualOptions,
} from "./phi-accrual.js";

/** A member this node monitors, as membership (gossip) knows it. */
export interface SubjectRef {
  readonly id: NodeId;
  readonly generation: number;
  readonly incarnation: number;
  /**
   * Watched only because every regular monitor of it is down in our view. Hearing nothing from such
   * a subject is the expected case in a partition, so it gets no extra silence for being unheard.
   */
  readonly takeover?: boolean;
}

/** A conviction, gossiped as evidence (JSON-serialisable, plain numbers). */
export interface Vote {
  readonly subject: NodeId;
  readonly generation: number;
  readonly incarnation: number;
  /** Phi when the vote was cast; finite, >= the threshold. */
  readonly phi: number;
  /** Intervals the window held. */
  readonly samples: number;
  /** Silence when the vote was cast. */
  readonly silentMs: number;
  /** When the vote was cast (the monitor's clock). */
  readonly atMs: number;
}

export interface FailureDetectorOptions extends Partial<PhiAccrualOptions> {
  /** Phi at which a subject is convicted (SPEC `--phi-threshold`, default 8). */
  phiThreshold: number;
  /** How often evaluate() is called and heartbeats are sent. */
  tickIntervalMs: number;
  /** A gap between calls longer than this means we were stalled. Default: max(3 ticks, 1.5 s). */
  stallThresholdMs?: number;
  /** After a stall, convict nobody for this long. Default: max(2 ticks, 1 s). */
  stallGraceMs?: number;
  /** Subjects monitored at once; beyond it, the rest are ignored and counted. */
  subjectsMax?: number;
  /** Silence before a vote against a subject never heard from. Default 20 s. */
  unheardSilenceMs?: number;
}

/** Every knob resolved, as the detector runs with them. */
export interface ResolvedFailureDetectorOptions extends Required<PhiAccrualOptions> {
  readonly phiThreshold: number;
  readonly tickIntervalMs: number;
  readonly stallThresholdMs: number;
  readonly stallGraceMs: number;
  readonly subjectsMax: number;
  readonly unheardSilenceMs: number;
}

/** Defaults, and how the tick-relative ones derive from the tick interval. */
export const FAILURE_DETECTOR_DEFAULTS = Object.freeze({
  /** SPEC's `--phi-threshold` default. */
  phiThreshold: 8,
  /** Two heartbeats per 1 s gossip round. */
  tickIntervalMs: 500,
  /** A stall is a gap of more than three ticks... */
  stallThresholdTicks: 3,
  /**
   * ...and never less than this: ordinary event-loop hiccups of a few hundred ms are not stalls.
   */
  stallThresholdMsMin: 1_500,
  /** After a stall, convict nobody for two ticks (the first ticks back)... */
  stallGraceTicks: 2,
  /** ...and at least this long, so delayed heartbeats queued during the stall can land first. */
  stallGraceMsMin: 1_000,
  /** A monitor has about k = 5 subjects; the bound only guards against a broken ring. */
  subjectsMax: 64,
  /**
   * Silence before a vote against a subject never heard from. Longer than gossip takes to tell a
   * member who its monitors are (seconds, more under loss); short enough that a member cut off from
   * all its regular monitors (whose take-over monitors can never hear it) is still convicted in
   * well under a minute.
   */
  unheardSilenceMs: 20_000,
  /** The first interval is assumed to be one tick. */
  firstIntervalEstimateTicks: 1,
  /** An interval of more than five ticks (four lost heartbeats in a row) is a pause, not jitter. */
  intervalMaxTicks: 5,
});

/** Fills in the defaults; tick-relative knobs follow `tickIntervalMs` unless given. */
export function resolveFailureDetectorOptions(
  options: FailureDetectorOptions,
): ResolvedFailureDetectorOptions {
  const tick = options.tickIntervalMs;
  assert(Number.isFinite(tick) && tick > 0, () => `tickIntervalMs must be positive, got ${tick}`);
  const d = FAILURE_DETECTOR_DEFAULTS;
  const resolved: ResolvedFailureDetectorOptions = {
    windowSizeMax: options.windowSizeMax ?? PHI_ACCRUAL_DEFAULTS.windowSizeMax,
    minStdDevMs: options.minStdDevMs ?? PHI_ACCRUAL_DEFAULTS.minStdDevMs,
    acceptablePauseMs: options.acceptablePauseMs ?? PHI_ACCRUAL_DEFAULTS.acceptablePauseMs,
    firstIntervalEstimateMs: options.firstIntervalEstimateMs ?? tick * d.firstIntervalEstimateTicks,
    intervalMaxMs: options.intervalMaxMs ?? tick * d.intervalMaxTicks,
    phiThreshold: options.phiThreshold,
    tickIntervalMs: tick,
    stallThresholdMs:
      options.stallThresholdMs ?? Math.max(d.stallThresholdTicks * tick, d.stallThresholdMsMin),
    stallGraceMs: options.stallGraceMs ?? Math.max(d.stallGraceTicks * tick, d.stallGraceMsMin),
    subjectsMax: options.subjectsMax ?? d.subjectsMax,
    unheardSilenceMs: options.unheardSilenceMs ?? d.unheardSilenceMs,
  };
  assertPhiAccrualOptions(resolved);
  assert(
    Number.isFinite(resolved.phiThreshold) &&
      resolved.phiThreshold > 0 &&
      resolved.phiThreshold < PHI_MAX,
    () => `phiThreshold must be in (0, ${PHI_MAX}), got ${resolved.phiThreshold}`,
  );
  assert(
    resolved.stallThresholdMs > tick,
    () =>
      `stallThresholdMs (${resolved.stallThresholdMs}) must exceed one tick (${tick}), or every tick is a stall`,
  );
  assert(resolved.stallGraceMs >= 0, "stallGraceMs must be >= 0");
  assert(
    Number.isSafeInteger(resolved.subjectsMax) && resolved.subjectsMax >= 1,
    () => `subjectsMax must be a positive integer, got ${resolved.subjectsMax}`,
  );
  return Object.freeze(resolved);
}

/** Counters for metrics and the simulator. */
export interface FailureDetectorStats {
  /** Times a gap between calls was taken as our own stall. */
  readonly stalls: number;
  /** Subjects beyond `subjectsMax` left unmonitored (summed over setSubjects calls). */
  readonly subjectsIgnored: number;
  /** Heartbeats from non-subjects, older generations, or not above the last sequence. */
  readonly heartbeatsIgnored: number;
  readonly votesCast: number;
  readonly votesWithdrawn: number;
}

interface SubjectState {
  readonly id: NodeId;
  generation: number;
  incarnation: number;
  window: ArrivalWindow;
  lastSequence: number | undefined;
  vote: Vote | undefined;
  takeover: boolean;
}

export class FailureDetector {
  readonly options: ResolvedFailureDetectorOptions;
  private readonly subjects = new Map<NodeId, SubjectState>();
  /** Subjects whose vote was withdrawn since the last evaluate(). */
  private withdrawn = new Set<NodeId>();
  private lastCallMs: number | undefined;
  private graceUntilMs = Number.NEGATIVE_INFINITY;
  private counters = {
    stalls: 0,
    subjectsIgnored: 0,
    heartbeatsIgnored: 0,
    votesCast: 0,
    votesWithdrawn: 0,
  };

  constructor(options: FailureDetectorOptions) {
    this.options = resolveFailureDetectorOptions(options);
  }

  /**
   * The members this node monitors now. New ones start a fresh window whose silence counts from
   * `nowMs`; dropped ones go with their votes; a new generation starts over; a higher incarnation
   * withdraws a vote for an older one and restarts the silence.
   */
  setSubjects(subjects: readonly SubjectRef[], nowMs: number): void {
    this.observeTime(nowMs);
    const wanted = new Map<NodeId, SubjectRef>();
    for (const subject of subjects) {
      assertSubjectRef(subject);
      if (wanted.has(subject.id)) continue;
      if (wanted.size >= this.options.subjectsMax) {
        this.counters.subjectsIgnored += 1;
        continue;
      }
      wanted.set(subject.id, subject);
    }
    for (const [id, state] of this.subjects) {
      if (!wanted.has(id)) {
        this.withdraw(state);
        this.subjects.delete(id);
      }
    }
    for (const subject of wanted.values()) {
      const state = this.subjects.get(subject.id);
      if (state !== undefined) state.takeover = subject.takeover === true;
      if (state === undefined) {
        this.subjects.set(subject.id, this.freshState(subject, nowMs));
      } else if (subject.generation > state.generation) {
        this.withdraw(state);
        this.subjects.set(subject.id, this.freshState(subject, nowMs));
      } else if (
        subject.generation === state.generation &&
        subject.incarnation > state.incarnation
      ) {
        state.incarnation = subject.incarnation;
        if (state.vote !== undefined && state.vote.incarnation < subject.incarnation)
          this.withdraw(state);
        state.window.restartSilence(nowMs);
      }
      // An older generation than ours: a heartbeat already told us of the restart; gossip will
      // catch up.
    }
  }

  /** A direct heartbeat from `from`; see the theory of operation for what is ignored. */
  heartbeat(
    from: NodeId,
    generation: number,
    incarnation: number,
    sequence: number,
    nowMs: number,
  ): void {
    this.observeTime(nowMs);
    const state = this.subjects.get(from);
    if (state === undefined || generation < state.generation) {
      this.counters.heartbeatsIgnored += 1;
      return;
    }
    if (generation > state.generation) {
      // The subject restarted before gossip told us: its old window says nothing about the new
      // process.
      this.withdraw(state);
      const fresh: SubjectState = {
        id: from,
        generation,
        incarnation,
        window: new ArrivalWindow(this.options, nowMs),
        lastSequence: sequence,
        vote: undefined,
        takeover: state.takeover,
      };
      this.subjects.set(from, fresh);
      return;
    }
    if (state.lastSequence !== undefined && sequence <= state.lastSequence) {
      this.counters.heartbeatsIgnored += 1;
      return;
    }
    state.lastSequence = sequence;
    state.incarnation = Math.max(state.incarnation, incarnation);
    state.window.record(nowMs);
    this.withdraw(state);
  }

  /** Votes cast and withdrawn since the last call. */
  evaluate(nowMs: number): { convicted: Vote[]; acquitted: NodeId[] } {
    this.observeTime(nowMs);
    const convicted: Vote[] = [];
    if (nowMs >= this.graceUntilMs) {
      for (const state of this.subjects.values()) {
        if (state.vote !== undefined) continue;
        // A subject never heard from may simply not know yet that we watch it (views converge by
        // gossip, slower under loss): it gets a longer silence before a vote, not a phi it never
        // had a chance at.
        if (
          state.lastSequence === undefined &&
          !state.takeover &&
          state.window.silenceMs(nowMs) < this.options.unheardSilenceMs
        )
          continue;
        const phi = state.window.phi(nowMs);
        if (phi < this.options.phiThreshold) continue;
        const vote: Vote = {
          subject: state.id,
          generation: state.generation,
          incarnation: state.incarnation,
          phi,
          samples: state.window.samples,
          silentMs: state.window.silenceMs(nowMs),
          atMs: nowMs,
        };
        state.vote = vote;
        this.counters.votesCast += 1;
        convicted.push(vote);
      }
    }
    // A vote withdrawn and cast again since the last call is, net, a new vote.
    for (const vote of convicted) this.withdrawn.delete(vote.subject);
    const acquitted = [...this.withdrawn].sort();
    this.withdrawn = new Set();
    convicted.sort((a, b) => compareIds(a.subject, b.subject));
    return { convicted, acquitted };
  }

  /** Our current convictions, by subject id. */
  votes(): Vote[] {
    const votes: Vote[] = [];
    for (const state of this.subjects.values()) {
      if (state.vote !== undefined) votes.push(state.vote);
    }
    return votes.sort((a, b) => compareIds(a.subject, b.subject));
  }

  /**
   * Our phi for `id` at `nowMs`, or null when we do not monitor it. A query: it changes nothing.
   */
  phi(id: NodeId, nowMs: number): number | null {
    const state = this.subjects.get(id);
    return state === undefined ? null : state.window.phi(nowMs);
  }

  /** The last heartbeat sequence accepted from `id` (this generation), if any. */
  lastSequence(id: NodeId): number | undefined {
    return this.subjects.get(id)?.lastSequence;
  }

  /** The subjects monitored now, by id. */
  subjectIds(): NodeId[] {
    return [...this.subjects.keys()].sort();
  }

  /** Read-only view of a subject's window, for status pages and tests. */
  window(id: NodeId): ArrivalWindow | undefined {
    return this.subjects.get(id)?.window;
  }

  stats(): FailureDetectorStats {
    return { ...this.counters };
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Every entry point passes the time through here, so a stall is noticed whichever call comes
   * first.
   */
  private observeTime(nowMs: number): void {
    assert(Number.isFinite(nowMs), () => `nowMs must be finite, got ${nowMs}`);
    const last = this.lastCallMs;
    if (last !== undefined) {
      assert(nowMs >= last, () => `time went back from ${last} to ${nowMs}`);
      if (nowMs - last > this.options.stallThresholdMs) {
        this.counters.stalls += 1;
        for (const state of this.subjects.values()) state.window.restartSilence(nowMs);
        this.graceUntilMs = Math.max(this.graceUntilMs, nowMs + this.options.stallGraceMs);
      }
    }
    this.lastCallMs = nowMs;
  }

  private freshState(subject: SubjectRef, nowMs: number): SubjectState {
    const window = new ArrivalWindow(this.options, nowMs);
    // No heartbeat has arrived yet: the silence counts from now, but the first arrival closes no
    // interval.
    window.restartSilence(nowMs);
    return {
      id: subject.id,
      generation: subject.generation,
      incarnation: subject.incarnation,
      window,
      lastSequence: undefined,
      vote: undefined,
      takeover: subject.takeover === true,
    };
  }

  private withdraw(state: SubjectState): void {
    if (state.vote === undefined) return;
    state.vote = undefined;
    this.counters.votesWithdrawn += 1;
    this.withdrawn.add(state.id);
  }
}

function assertSubjectRef(subject: SubjectRef): void {
  assert(
    Number.isSafeInteger(subject.generation) && subject.generation >= 0,
    () =>
      `subject ${subject.id}: generation must be a non-negative integer, got ${subject.generation}`,
  );
  assert(
    Number.isSafeInteger(subject.incarnation) && subject.incarnation >= 0,
    () =>
      `subject ${subject.id}: incarnation must be a non-negative integer, got ${subject.incarnation}`,
  );
}

function compareIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
