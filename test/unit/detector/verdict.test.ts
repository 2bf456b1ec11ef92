import { describe, it, expect } from "vitest";
import type { NodeId } from "../../../src/core/ids.js";
import type { SubjectRef, Vote } from "../../../src/detector/failure-detector.js";
import { MonitorRing } from "../../../src/detector/monitors.js";
import {
  isConvicted,
  shouldRefute,
  tallyVotes,
  VOTES_REQUIRED_DEFAULT,
} from "../../../src/detector/verdict.js";

function vote(subject: SubjectRef, overrides: Partial<Vote> = {}): Vote {
  return {
    subject: subject.id,
    generation: subject.generation,
    incarnation: subject.incarnation,
    phi: 9.5,
    samples: 120,
    silentMs: 6100,
    atMs: 1_000_000,
    ...overrides,
  };
}

/** Votes as gossip would hold them: by monitor, then by subject. */
type Ballots = Map<NodeId, Map<NodeId, Vote>>;

function cast(ballots: Ballots, monitor: NodeId, v: Vote): void {
  const byMonitor = ballots.get(monitor) ?? new Map<NodeId, Vote>();
  byMonitor.set(v.subject, v);
  ballots.set(monitor, byMonitor);
}

const X: SubjectRef = { id: "x", generation: 7, incarnation: 2 };
const MONITORS = ["m1", "m2", "m3", "m4", "m5"];

function verdict(
  votes: Record<NodeId, Vote>,
  options: {
    suspected?: readonly NodeId[];
    votesRequired?: number;
    monitors?: readonly NodeId[];
  } = {},
): boolean {
  return isConvicted({
    subject: X,
    monitors: options.monitors ?? MONITORS,
    votesBy: (monitor) => votes[monitor],
    suspected: (monitor) => (options.suspected ?? []).includes(monitor),
    votesRequired: options.votesRequired ?? VOTES_REQUIRED_DEFAULT,
  });
}

describe("isConvicted", () => {
  it("needs two of five monitors by default", () => {
    expect(VOTES_REQUIRED_DEFAULT).toBe(2);
    expect(verdict({})).toBe(false);
    expect(verdict({ m1: vote(X) })).toBe(false);
    expect(verdict({ m1: vote(X), m4: vote(X) })).toBe(true);
    expect(verdict({ m1: vote(X), m2: vote(X), m3: vote(X) })).toBe(true);
  });

  it("ignores votes from members that are not the subject's monitors", () => {
    expect(verdict({ m1: vote(X), outsider: vote(X) })).toBe(false);
  });

  it("ignores votes against an older generation", () => {
    const stale = vote(X, { generation: X.generation - 1 });
    expect(verdict({ m1: stale, m2: stale, m3: vote(X) })).toBe(false);
    expect(
      tallyVotes({
        subject: X,
        monitors: MONITORS,
        votesBy: () => stale,
        suspected: () => false,
        votesRequired: 2,
      }).votes,
    ).toBe(0);
  });

  it("ignores votes against an older incarnation, and counts those against a newer one", () => {
    const refuted = vote(X, { incarnation: X.incarnation - 1 });
    expect(verdict({ m1: refuted, m2: refuted })).toBe(false);
    expect(verdict({ m1: vote(X, { incarnation: X.incarnation + 1 }), m2: vote(X) })).toBe(true);
  });

  it("ignores a vote that is about another member", () => {
    const other = vote({ id: "y", generation: X.generation, incarnation: X.incarnation });
    expect(verdict({ m1: other, m2: vote(X) })).toBe(false);
  });

  it("lowers the requirement to the monitors not themselves accused, but never below one", () => {
    // Four of five monitors stand accused: the one left can convict alone.
    expect(verdict({ m5: vote(X) }, { suspected: ["m1", "m2", "m3", "m4"] })).toBe(true);
    // Three accused, two unaccused: two votes are still needed.
    expect(verdict({ m5: vote(X) }, { suspected: ["m1", "m2", "m3"] })).toBe(false);
    // All accused: one vote, from anyone on the list, is enough; none is not.
    expect(verdict({ m2: vote(X) }, { suspected: MONITORS })).toBe(true);
    expect(verdict({}, { suspected: MONITORS })).toBe(false);
  });

  it("convicts nobody who has no monitors", () => {
    expect(verdict({ m1: vote(X) }, { monitors: [] })).toBe(false);
  });

  it("follows votesRequired", () => {
    expect(verdict({ m1: vote(X) }, { votesRequired: 1 })).toBe(true);
    expect(verdict({ m1: vote(X), m2: vote(X) }, { votesRequired: 3 })).toBe(false);
  });

  it("counts a monitor listed twice once", () => {
    expect(verdict({ m1: vote(X) }, { monitors: ["m1", "m1", "m2"] })).toBe(false);
  });

  it("convicts both dead members of a three-node cluster from the survivor's votes alone", () => {
    const members: SubjectRef[] = [
      { id: "a", generation: 1, incarnation: 0 },
      { id: "b", generation: 1, incarnation: 0 },
      { id: "c", generation: 1, incarnation: 0 },
    ];
    const [a, b, c] = members as [SubjectRef, SubjectRef, SubjectRef];
    const ring = new MonitorRing(members.map((m) => m.id));
    // With k = 5 and three members, each member's monitors are the other two.
    expect([...ring.monitorsOf("b", 5)].sort()).toEqual(["a", "c"]);
    // b and c crashed; the survivor a has convicted both. Nobody votes against a.
    const ballots: Ballots = new Map();
    cast(ballots, "a", vote(b));
    cast(ballots, "a", vote(c));
    const accused = (id: NodeId): boolean =>
      [...ballots.values()].some((byMonitor) => {
        const v = byMonitor.get(id);
        const subject = members.find((m) => m.id === id);
        return (
          v !== undefined &&
          subject !== undefined &&
          v.generation === subject.generation &&
          v.incarnation >= subject.incarnation
        );
      });
    const convicted = members.filter((subject) =>
      isConvicted({
        subject,
        monitors: ring.monitorsOf(subject.id, 5),
        votesBy: (monitor) => ballots.get(monitor)?.get(subject.id),
        suspected: accused,
        votesRequired: VOTES_REQUIRED_DEFAULT,
      }),
    );
    expect(convicted.map((m) => m.id)).toEqual(["b", "c"]);
    expect(
      isConvicted({
        subject: a,
        monitors: ring.monitorsOf("a", 5),
        votesBy: () => undefined,
        suspected: accused,
        votesRequired: 2,
      }),
    ).toBe(false);
  });

  it("does not let one monitor convict in a healthy three-node cluster", () => {
    const b: SubjectRef = { id: "b", generation: 1, incarnation: 0 };
    const votes: Record<NodeId, Vote> = { a: vote(b) };
    expect(
      isConvicted({
        subject: b,
        monitors: ["a", "c"],
        votesBy: (m) => votes[m],
        suspected: () => false,
        votesRequired: 2,
      }),
    ).toBe(false);
  });
});

describe("shouldRefute", () => {
  const SELF: SubjectRef = { id: "me", generation: 42, incarnation: 3 };

  it("returns null when nobody votes against this node", () => {
    expect(shouldRefute(SELF, [])).toBeNull();
  });

  it("returns one more than the highest valid incarnation voted", () => {
    expect(shouldRefute(SELF, [vote(SELF)])).toBe(4);
    expect(shouldRefute(SELF, [vote(SELF), vote(SELF, { incarnation: 5 })])).toBe(6);
  });

  it("ignores votes against an earlier generation or an already refuted incarnation", () => {
    expect(
      shouldRefute(SELF, [vote(SELF, { generation: 41 }), vote(SELF, { incarnation: 2 })]),
    ).toBeNull();
    expect(shouldRefute(SELF, [vote(SELF, { incarnation: 2 }), vote(SELF)])).toBe(4);
  });

  it("ignores votes about other members", () => {
    expect(shouldRefute(SELF, [vote({ id: "other", generation: 42, incarnation: 3 })])).toBeNull();
  });
});
