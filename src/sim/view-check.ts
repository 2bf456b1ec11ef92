// sim/view-check.ts — do the simulated nodes' views of the cluster agree with each other and with
// the truth? The question every simulation test ends by asking.
//
// Checks run cheapest first and stop at the first difference, so a test can ask it often while a
// cluster converges: liveness (one isLive per pair), then membership (generation and status per
// member), then rings by fingerprint, and token by token only when asked (every observer then
// builds its ring). The answer is a sentence naming the first difference, for the failure message.

import type { MemberStatus, NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";

/** What every observer is expected to agree on; defaults describe a healthy, settled cluster. */
export interface ViewCheckOptions {
  /** Whose views are compared; default: every node that is up. */
  readonly observers?: readonly NodeId[];
  /** The member set every observer must see; default: every node ever started. */
  readonly members?: readonly NodeId[];
  /**
   * Members every observer must see live; every other member must be seen down. Default: the nodes
   * that are up.
   */
  readonly live?: readonly NodeId[];
  /** When set, every member must be seen in this status. */
  readonly status?: MemberStatus;
  /**
   * How rings are compared: by the engines' incremental fingerprints (default; cheap), or token by
   * token as well (TokenMap.equals), which makes every observer build its ring: ~40 ms each at
   * 1,000 members × 16 vnodes.
   */
  readonly ring?: "fingerprint" | "tokens";
}

/** The simulated cluster as the check reads it: the truth, and each running node's engine. */
export interface ClusterTruth {
  /** Nodes that are up (running and reachable). */
  liveIds(): NodeId[];
  /** Every node started at least once. */
  startedIds(): NodeId[];
  /** The current (or last) generation of a node. */
  generation(id: NodeId): number;
  /** The engine of a running node. */
  engine(id: NodeId): ClusterEngine;
}

/**
 * The first way the observers' views differ from each other or from the truth, or null when they
 * all agree: the expected liveness, the same member set, each member's current generation, one
 * status per member (the expected one when given), and the same ring.
 */
export function viewDisagreement(
  truth: ClusterTruth,
  options: ViewCheckOptions = {},
): string | null {
  const observers = options.observers ?? truth.liveIds();
  if (observers.length === 0) return null;
  const expectedMembers = options.members ?? truth.startedIds();
  const expectedLive = new Set(options.live ?? truth.liveIds());
  return (
    livenessDisagreement(truth, observers, expectedMembers, expectedLive) ??
    membershipDisagreement(
      truth,
      observers,
      new Set(expectedMembers),
      expectedLive,
      options.status,
    ) ??
    ringDisagreement(truth, observers, options.ring ?? "fingerprint")
  );
}

function livenessDisagreement(
  truth: ClusterTruth,
  observers: readonly NodeId[],
  members: readonly NodeId[],
  live: ReadonlySet<NodeId>,
): string | null {
  for (const observer of observers) {
    const engine = truth.engine(observer);
    for (const member of members) {
      if (member === observer) continue;
      const expected = live.has(member);
      if (engine.isLive(member) !== expected) {
        // An unknown member is not live either, so "not live" may also mean "not heard of yet".
        return expected
          ? `${observer} does not see ${member} live (down or unknown)`
          : `${observer} sees ${member} live, expected down`;
      }
    }
  }
  return null;
}

function membershipDisagreement(
  truth: ClusterTruth,
  observers: readonly NodeId[],
  members: ReadonlySet<NodeId>,
  live: ReadonlySet<NodeId>,
  status: MemberStatus | undefined,
): string | null {
  const statusOf = new Map<NodeId, MemberStatus>();
  for (const observer of observers) {
    const entries = truth.engine(observer).membership();
    if (entries.length !== members.size)
      return `${observer} sees ${entries.length} members, expected ${members.size}`;
    for (const entry of entries) {
      if (!members.has(entry.id)) return `${observer} sees unexpected member ${entry.id}`;
      const generation = truth.generation(entry.id);
      if (entry.generation !== generation) {
        return `${observer} sees ${entry.id} at generation ${entry.generation}, it is ${generation}`;
      }
      if (entry.id !== observer && entry.live !== live.has(entry.id)) {
        return `${observer} lists ${entry.id} as ${entry.live ? "live" : "down"} but isLive() disagrees`;
      }
      if (status !== undefined && entry.status !== status) {
        return `${observer} sees ${entry.id} ${entry.status}, expected ${status}`;
      }
      const seen = statusOf.get(entry.id);
      if (seen === undefined) statusOf.set(entry.id, entry.status);
      else if (seen !== entry.status)
        return `${observer} sees ${entry.id} ${entry.status}, others ${seen}`;
    }
  }
  return null;
}

function ringDisagreement(
  truth: ClusterTruth,
  observers: readonly NodeId[],
  ring: "fingerprint" | "tokens",
): string | null {
  const first = observers[0] as NodeId;
  const referenceFingerprint = truth.engine(first).ringFingerprint();
  for (const observer of observers) {
    const fingerprint = truth.engine(observer).ringFingerprint();
    if (fingerprint !== referenceFingerprint)
      return `${observer} has ring fingerprint ${fingerprint}, ${first} has ${referenceFingerprint}`;
  }
  if (ring === "tokens") {
    const referenceRing = truth.engine(first).ring();
    for (const observer of observers) {
      const observed = truth.engine(observer).ring();
      if (!observed.equals(referenceRing))
        return `${observer} sees a ring of ${observed.size} tokens unlike ${first}'s ${referenceRing.size}`;
    }
  }
  return null;
}
