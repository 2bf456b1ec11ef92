import { describe, it, expect } from "vitest";
import { InvariantError } from "../../../src/core/assert.js";
import type { NodeId } from "../../../src/core/ids.js";
import { createRandom, type Random } from "../../../src/core/random.js";
import {
  FailureDetector,
  resolveFailureDetectorOptions,
  type FailureDetectorOptions,
  type SubjectRef,
  type Vote,
} from "../../../src/detector/failure-detector.js";
import { PHI_MAX, phiOf } from "../../../src/detector/phi-accrual.js";

const TICK_MS = 500;
const A: SubjectRef = { id: "a", generation: 100, incarnation: 0 };
const B: SubjectRef = { id: "b", generation: 200, incarnation: 0 };

function detector(overrides: Partial<FailureDetectorOptions> = {}): FailureDetector {
  return new FailureDetector({ phiThreshold: 8, tickIntervalMs: TICK_MS, ...overrides });
}

/**
 * Silence after which phi reaches the threshold for a window of this mean and deviation (bisection
 * on phiOf).
 */
function crossingSilenceMs(fd: FailureDetector, meanMs: number, stdDevMs: number): number {
  const o = fd.options;
  const mean = meanMs + o.acceptablePauseMs;
  const std = Math.max(stdDevMs, o.minStdDevMs);
  let low = 0;
  let high = mean + 100 * std;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (phiOf(mid, mean, std) < o.phiThreshold) low = mid;
    else high = mid;
  }
  return high;
}

/**
 * Drives one monitor the way cluster-view does: every tick at k × TICK_MS it evaluates; between
 * ticks each subject's heartbeat arrives (or not) `jitterMs` after the tick. Records every change.
 */
class Monitor {
  nowMs = 0;
  readonly convicted: Vote[] = [];
  readonly acquitted: NodeId[] = [];
  maxPhi = 0;
  private readonly sequences = new Map<NodeId, number>();

  constructor(readonly fd: FailureDetector) {}

  /**
   * One tick: heartbeats from `senders` (with their jitter), then evaluate at the next tick
   * boundary.
   */
  tick(senders: ReadonlyArray<{ subject: SubjectRef; jitterMs?: number }>): void {
    const arrivals = [...senders].sort((x, y) => (x.jitterMs ?? 0) - (y.jitterMs ?? 0));
    for (const { subject, jitterMs = 0 } of arrivals)
      this.heartbeat(subject, this.nowMs + jitterMs);
    this.nowMs += TICK_MS;
    this.evaluate(this.nowMs);
  }

  /** A tick on which nobody's heartbeat arrives. */
  silentTicks(count: number): void {
    for (let i = 0; i < count; i++) this.tick([]);
  }

  heartbeat(subject: SubjectRef, atMs: number): void {
    const sequence = (this.sequences.get(subject.id) ?? 0) + 1;
    this.sequences.set(subject.id, sequence);
    this.fd.heartbeat(subject.id, subject.generation, subject.incarnation, sequence, atMs);
  }

  evaluate(atMs: number): void {
    this.nowMs = atMs;
    const changes = this.fd.evaluate(atMs);
    // Sampled after evaluate(), which is where a stall of ours is noticed and the silences restart.
    for (const id of this.fd.subjectIds())
      this.maxPhi = Math.max(this.maxPhi, this.fd.phi(id, atMs) ?? 0);
    this.convicted.push(...changes.convicted);
    this.acquitted.push(...changes.acquitted);
  }
}

function steadyMonitor(subjects: readonly SubjectRef[], ticks: number): Monitor {
  const monitor = new Monitor(detector());
  monitor.fd.setSubjects(subjects, 0);
  for (let i = 0; i < ticks; i++) monitor.tick(subjects.map((subject) => ({ subject })));
  return monitor;
}

describe("FailureDetector: conviction", () => {
  it("never convicts a subject that heartbeats steadily, with jitter, for an hour", () => {
    const seed = 71_001;
    const random: Random = createRandom(seed);
    const monitor = new Monitor(detector());
    monitor.fd.setSubjects([A, B], 0);
    for (let i = 0; i < 7200; i++) {
      monitor.tick([
        { subject: A, jitterMs: random.next() * 100 },
        { subject: B, jitterMs: random.next() * 400 },
      ]);
    }
    expect(monitor.convicted, `seed ${seed}`).toEqual([]);
    expect(monitor.maxPhi, `seed ${seed}`).toBeLessThan(1);
  });

  it("convicts a silent subject at the first tick after phi crosses the threshold", () => {
    const monitor = steadyMonitor([A], 120);
    const lastArrivalMs = monitor.nowMs - TICK_MS; // heartbeats arrive at the start of each tick
    // 119 intervals of exactly 500 ms: mean 500, std 0 → floored.
    const expectedMs = lastArrivalMs + crossingSilenceMs(monitor.fd, 500, 0);
    monitor.silentTicks(20);
    expect(monitor.convicted).toHaveLength(1);
    const vote = monitor.convicted[0];
    expect(vote).toBeDefined();
    if (vote === undefined) return;
    expect(vote.atMs).toBeGreaterThanOrEqual(expectedMs);
    expect(vote.atMs).toBeLessThan(expectedMs + TICK_MS);
    expect(vote).toMatchObject({ subject: "a", generation: 100, incarnation: 0, samples: 119 });
    expect(vote.silentMs).toBe(vote.atMs - lastArrivalMs);
    expect(vote.phi).toBeGreaterThanOrEqual(8);
    expect(monitor.fd.votes()).toEqual([vote]);
  });

  it("with the defaults, convicts a crashed subject 5.5–6.5 s after its last heartbeat", () => {
    // Target: convicted everywhere within 8 s; gossip takes about a second, one tick to notice.
    const monitor = steadyMonitor([A], 240);
    const lastArrivalMs = monitor.nowMs - TICK_MS;
    monitor.silentTicks(30);
    const vote = monitor.convicted[0];
    expect(vote).toBeDefined();
    expect(vote?.silentMs).toBeGreaterThan(5500);
    expect((vote?.atMs ?? 0) - lastArrivalMs).toBeLessThanOrEqual(6500);
  });

  it("convicts a subject that never heartbeats only after the longer unheard silence, counted from when it became a subject", () => {
    const fd = detector();
    fd.setSubjects([A], 10_000);
    // Never heard: it may not know yet that we watch it, so phi alone does not convict it.
    const expectedMs =
      10_000 + Math.max(crossingSilenceMs(fd, TICK_MS, TICK_MS / 4), fd.options.unheardSilenceMs);
    const monitor = new Monitor(fd);
    monitor.nowMs = 10_000;
    monitor.silentTicks(Math.ceil(fd.options.unheardSilenceMs / TICK_MS) - 2);
    expect(monitor.convicted).toHaveLength(0);
    monitor.silentTicks(4);
    const vote = monitor.convicted[0];
    expect(vote?.samples).toBe(0);
    expect(vote?.atMs).toBeGreaterThanOrEqual(expectedMs);
    expect(vote?.atMs).toBeLessThan(expectedMs + TICK_MS);
  });

  it("convicts a never-heard take-over subject on phi alone: in a partition, silence is what it looks like", () => {
    const fd = detector();
    fd.setSubjects([{ ...A, takeover: true }], 10_000);
    // No interval yet: mean = one tick, std = a quarter of it → floored.
    const expectedMs = 10_000 + crossingSilenceMs(fd, TICK_MS, TICK_MS / 4);
    const monitor = new Monitor(fd);
    monitor.nowMs = 10_000;
    monitor.silentTicks(20);
    const vote = monitor.convicted[0];
    expect(vote?.samples).toBe(0);
    expect(vote?.atMs).toBeGreaterThanOrEqual(expectedMs);
    expect(vote?.atMs).toBeLessThan(expectedMs + TICK_MS);
  });

  it("reports each vote once, and keeps it while the silence lasts", () => {
    const monitor = steadyMonitor([A], 20);
    monitor.silentTicks(40);
    expect(monitor.convicted).toHaveLength(1);
    expect(monitor.fd.votes()).toHaveLength(1);
    expect(monitor.fd.evaluate(monitor.nowMs)).toEqual({ convicted: [], acquitted: [] });
  });

  it("casts votes that survive JSON with a finite phi, however long the silence", () => {
    const fd = detector();
    fd.setSubjects([A], 0);
    // Keep calling so that the long silence is the subject's, not a stall of ours.
    let vote: Vote | undefined;
    for (let t = 0; t <= 600_000; t += TICK_MS) vote ??= fd.evaluate(t).convicted[0];
    expect(vote).toBeDefined();
    expect(fd.phi("a", 1e15)).toBe(PHI_MAX);
    const copy: unknown = JSON.parse(JSON.stringify(fd.votes()));
    expect(copy).toEqual(fd.votes());
    for (const v of fd.votes()) expect(Number.isFinite(v.phi)).toBe(true);
  });

  it("never convicts when every 10th heartbeat is lost, over an hour", () => {
    const monitor = new Monitor(detector());
    monitor.fd.setSubjects([A], 0);
    for (let i = 0; i < 7200; i++) monitor.tick(i % 10 === 9 ? [] : [{ subject: A }]);
    expect(monitor.convicted).toEqual([]);
    expect(monitor.maxPhi).toBeLessThan(1);
  });

  it("does not convict a subject that pauses 4 s and then loses two heartbeats", () => {
    const monitor = steadyMonitor([A], 240);
    // 4 s paused, its first heartbeat back up to a tick late, and the next two lost: the next
    // arrival comes 5.5 s after the last, so 10 heartbeats are missing.
    const lastArrivalMs = monitor.nowMs - TICK_MS;
    monitor.silentTicks((4000 + 500 + 1000) / TICK_MS - 1);
    monitor.tick([{ subject: A }]);
    expect(monitor.fd.window("a")?.lastArrivalMs).toBe(lastArrivalMs + 5500);
    expect(monitor.convicted).toEqual([]);
    expect(monitor.maxPhi).toBeLessThan(4);
  });

  it("never convicts at 10 % loss with 4 s pauses every two minutes, over an hour", () => {
    const seed = 71_002;
    const random = createRandom(seed);
    const monitor = new Monitor(detector());
    monitor.fd.setSubjects([A], 0);
    const ticksPerHour = 7200;
    const pauseEveryTicks = 240;
    const pauseTicks = 4000 / TICK_MS;
    for (let i = 0; i < ticksPerHour; i++) {
      const paused = i % pauseEveryTicks >= pauseEveryTicks - pauseTicks;
      const lost = random.next() < 0.1;
      monitor.tick(paused || lost ? [] : [{ subject: A, jitterMs: random.next() * 50 }]);
    }
    expect(monitor.convicted, `seed ${seed}`).toEqual([]);
    expect(monitor.maxPhi, `seed ${seed}`).toBeLessThan(8);
  });
});

describe("FailureDetector: acquittal and withdrawal", () => {
  function convictedMonitor(): Monitor {
    const monitor = steadyMonitor([A, B], 20);
    // B keeps heartbeating; A falls silent until convicted.
    for (let i = 0; i < 30 && monitor.convicted.length === 0; i++) monitor.tick([{ subject: B }]);
    expect(monitor.convicted.map((v) => v.subject)).toEqual(["a"]);
    return monitor;
  }

  it("acquits a convicted subject on its next heartbeat", () => {
    const monitor = convictedMonitor();
    monitor.tick([{ subject: A }, { subject: B }]);
    expect(monitor.acquitted).toEqual(["a"]);
    expect(monitor.fd.votes()).toEqual([]);
    expect(monitor.fd.phi("a", monitor.nowMs)).toBeLessThan(1);
  });

  it("does not acquit on a repeated or older heartbeat sequence", () => {
    const monitor = convictedMonitor();
    const last = monitor.fd.lastSequence("a");
    expect(last).toBe(20);
    monitor.fd.heartbeat("a", A.generation, A.incarnation, 20, monitor.nowMs);
    monitor.fd.heartbeat("a", A.generation, A.incarnation, 3, monitor.nowMs);
    expect(monitor.fd.evaluate(monitor.nowMs).acquitted).toEqual([]);
    expect(monitor.fd.votes()).toHaveLength(1);
    expect(monitor.fd.stats().heartbeatsIgnored).toBe(2);
  });

  it("ignores heartbeats from non-subjects and from older generations", () => {
    const monitor = convictedMonitor();
    monitor.fd.heartbeat("stranger", 1, 0, 1, monitor.nowMs);
    monitor.fd.heartbeat("a", A.generation - 1, 0, 99, monitor.nowMs);
    expect(monitor.fd.evaluate(monitor.nowMs).acquitted).toEqual([]);
    expect(monitor.fd.votes()).toHaveLength(1);
    expect(monitor.fd.phi("stranger", monitor.nowMs)).toBeNull();
    expect(monitor.fd.lastSequence("stranger")).toBeUndefined();
  });

  it("starts over when gossip reports a new generation: vote withdrawn, fresh window", () => {
    const monitor = convictedMonitor();
    const restarted: SubjectRef = { ...A, generation: A.generation + 1 };
    monitor.fd.setSubjects([restarted, B], monitor.nowMs);
    expect(monitor.fd.votes()).toEqual([]);
    expect(monitor.fd.window("a")?.samples).toBe(0);
    expect(monitor.fd.lastSequence("a")).toBeUndefined();
    expect(monitor.fd.phi("a", monitor.nowMs)).toBe(0);
    monitor.tick([{ subject: B }]);
    expect(monitor.acquitted).toEqual(["a"]);
  });

  it("starts over when a heartbeat brings a new generation before gossip does", () => {
    const monitor = convictedMonitor();
    monitor.fd.heartbeat("a", A.generation + 1, 0, 1, monitor.nowMs);
    expect(monitor.fd.votes()).toEqual([]);
    expect(monitor.fd.window("a")?.samples).toBe(0);
    expect(monitor.fd.lastSequence("a")).toBe(1);
    // Gossip still says the old generation: that must not undo the restart.
    monitor.fd.setSubjects([A, B], monitor.nowMs);
    expect(monitor.fd.lastSequence("a")).toBe(1);
    monitor.tick([{ subject: B }]);
    expect(monitor.acquitted).toEqual(["a"]);
    // The new process's heartbeats count again from sequence 2 on.
    monitor.fd.heartbeat("a", A.generation + 1, 0, 2, monitor.nowMs);
    expect(monitor.fd.window("a")?.samples).toBe(1);
  });

  it("withdraws a vote for an older incarnation when the subject refutes, and restarts its silence", () => {
    const monitor = convictedMonitor();
    const refuted: SubjectRef = { ...A, incarnation: 1 };
    monitor.fd.setSubjects([refuted, B], monitor.nowMs);
    expect(monitor.fd.votes()).toEqual([]);
    monitor.tick([{ subject: B }]);
    expect(monitor.acquitted).toEqual(["a"]);
    // Not re-convicted at once: the refutation was evidence of life.
    expect(monitor.convicted).toHaveLength(1);
    // Still silent: convicted again, now at the new incarnation, after a full detection time.
    const restartedAtMs = monitor.nowMs - TICK_MS;
    for (let i = 0; i < 30 && monitor.convicted.length === 1; i++) monitor.tick([{ subject: B }]);
    const second = monitor.convicted[1];
    expect(second?.incarnation).toBe(1);
    expect((second?.atMs ?? 0) - restartedAtMs).toBeGreaterThan(
      monitor.fd.options.acceptablePauseMs,
    );
  });

  it("keeps a vote when gossip repeats the same incarnation", () => {
    const monitor = convictedMonitor();
    monitor.fd.setSubjects([A, B], monitor.nowMs);
    expect(monitor.fd.votes()).toHaveLength(1);
    expect(monitor.fd.evaluate(monitor.nowMs).acquitted).toEqual([]);
  });

  it("drops a subject that is no longer ours, with its vote", () => {
    const monitor = convictedMonitor();
    monitor.fd.setSubjects([B], monitor.nowMs);
    expect(monitor.fd.votes()).toEqual([]);
    expect(monitor.fd.phi("a", monitor.nowMs)).toBeNull();
    expect(monitor.fd.subjectIds()).toEqual(["b"]);
    expect(monitor.fd.evaluate(monitor.nowMs).acquitted).toEqual(["a"]);
  });
});

describe("FailureDetector: stall guard", () => {
  it("convicts nobody after a 10 s gap in its own calls", () => {
    const monitor = steadyMonitor([A, B], 60);
    // This node was stalled for 10 s: no ticks, no heartbeats delivered.
    monitor.nowMs += 10_000;
    monitor.evaluate(monitor.nowMs);
    expect(monitor.convicted).toEqual([]);
    expect(monitor.fd.stats().stalls).toBe(1);
    for (let i = 0; i < 600; i++) monitor.tick([{ subject: A }, { subject: B }]);
    expect(monitor.convicted).toEqual([]);
    expect(monitor.maxPhi).toBeLessThan(1);
  });

  it("never counts the stall gap as an interval, even when queued heartbeats arrive first", () => {
    // intervalMaxMs out of the way, so that only the stall guard can keep the gap out of the
    // window.
    const monitor = new Monitor(detector({ intervalMaxMs: 60_000 }));
    monitor.fd.setSubjects([A], 0);
    for (let i = 0; i < 60; i++) monitor.tick([{ subject: A }]);
    const samples = monitor.fd.window("a")?.samples ?? 0;
    expect(samples).toBe(59);
    monitor.nowMs += 10_000;
    // The heartbeat queued during the stall is delivered before the first tick back.
    monitor.heartbeat(A, monitor.nowMs);
    monitor.evaluate(monitor.nowMs);
    expect(monitor.fd.window("a")?.samples).toBe(samples);
    expect(monitor.fd.window("a")?.meanMs).toBe(500);
  });

  it("still convicts a subject that died during the stall, a detection time after it", () => {
    const monitor = steadyMonitor([A], 60);
    monitor.nowMs += 10_000;
    const backAtMs = monitor.nowMs;
    monitor.evaluate(backAtMs);
    monitor.silentTicks(30);
    const vote = monitor.convicted[0];
    expect(vote).toBeDefined();
    const expectedMs = backAtMs + crossingSilenceMs(monitor.fd, 500, 0);
    expect(vote?.atMs).toBeGreaterThanOrEqual(expectedMs);
    expect(vote?.atMs).toBeLessThan(expectedMs + TICK_MS);
  });

  it("convicts nobody during the grace after a stall, even when phi is over the threshold", () => {
    // A twitchy detector (no pause, 1 ms floor) crosses phi 8 ~505 ms after the restart, inside the
    // 1 s grace; the conviction must wait for the grace to end.
    const monitor = new Monitor(
      detector({ acceptablePauseMs: 0, minStdDevMs: 1, stallGraceMs: 1000 }),
    );
    monitor.fd.setSubjects([A], 0);
    for (let i = 0; i < 20; i++) monitor.tick([{ subject: A }]);
    monitor.nowMs += 5000;
    const backAtMs = monitor.nowMs;
    monitor.evaluate(backAtMs);
    monitor.evaluate(backAtMs + 750);
    expect(monitor.fd.phi("a", backAtMs + 750)).toBeGreaterThan(8);
    expect(monitor.convicted).toEqual([]);
    monitor.evaluate(backAtMs + 1000);
    expect(monitor.convicted.map((v) => v.subject)).toEqual(["a"]);
  });

  it("does not take ordinary tick-to-tick gaps for a stall", () => {
    const monitor = steadyMonitor([A], 100);
    expect(monitor.fd.stats().stalls).toBe(0);
    expect(monitor.fd.options.stallThresholdMs).toBe(1500);
  });
});

describe("FailureDetector: options and bounds", () => {
  it("derives tick-relative defaults from the tick interval", () => {
    const slow = resolveFailureDetectorOptions({ phiThreshold: 8, tickIntervalMs: 1000 });
    expect(slow).toMatchObject({
      firstIntervalEstimateMs: 1000,
      intervalMaxMs: 5000,
      stallThresholdMs: 3000,
      stallGraceMs: 2000,
    });
    const fast = resolveFailureDetectorOptions({ phiThreshold: 8, tickIntervalMs: 100 });
    expect(fast).toMatchObject({
      firstIntervalEstimateMs: 100,
      intervalMaxMs: 500,
      stallThresholdMs: 1500,
      stallGraceMs: 1000,
    });
    const tuned = resolveFailureDetectorOptions({
      phiThreshold: 10,
      tickIntervalMs: 500,
      acceptablePauseMs: 3000,
      minStdDevMs: 150,
    });
    expect(tuned).toMatchObject({ phiThreshold: 10, acceptablePauseMs: 3000, minStdDevMs: 150 });
  });

  it("refuses options that cannot work", () => {
    expect(() => detector({ phiThreshold: 0 })).toThrow(InvariantError);
    expect(() => detector({ phiThreshold: PHI_MAX })).toThrow(InvariantError);
    expect(() => detector({ tickIntervalMs: 0 })).toThrow(InvariantError);
    expect(() => detector({ stallThresholdMs: TICK_MS })).toThrow(InvariantError);
    expect(() => detector({ subjectsMax: 0 })).toThrow(InvariantError);
  });

  it("monitors at most subjectsMax subjects, ignoring and counting the rest", () => {
    const fd = detector({ subjectsMax: 3 });
    const subjects = ["p", "q", "r", "s", "t"].map((id) => ({ id, generation: 1, incarnation: 0 }));
    fd.setSubjects(subjects, 0);
    expect(fd.subjectIds()).toEqual(["p", "q", "r"]);
    expect(fd.stats().subjectsIgnored).toBe(2);
  });

  it("refuses time that goes back", () => {
    const fd = detector();
    fd.setSubjects([A], 1000);
    expect(() => fd.evaluate(999)).toThrow(InvariantError);
  });
});
