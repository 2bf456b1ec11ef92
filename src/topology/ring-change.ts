// topology/ring-change.ts — what bootstrap, decommission and removenode share: the ports they run
// on, their limits, and two waits (a condition on this node's view, and
// every other live member agreeing on how it sees a member before data moves).
//
// Why the agreement wait: a pending replica only gets the writes of coordinators that know it is
// pending. Cassandra sleeps RING_DELAY (30 s) and hopes gossip has spread; here the changing node
// asks each live member how it sees the member in question (their /cluster/status) until all agree,
// which takes about one gossip hop since statuses and tokens are urgent keys, and proceeds anyway
// after `viewAgreementTimeoutMs` (a member that cannot answer is one coordinators cannot reach).
//
// A refused change throws a core/errors.ts GrapevineError with its code (`ring_change_in_progress`,
// `member_live`, `too_few_members`, `not_found`, `bad_request`), which the admin routes answer as
// it is.

import type { Clock } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import type { Random } from "../core/random.js";
import type { RingChange, TopologyEngine } from "../cluster/engine.js";
import type { Logger } from "pino";
import type { RingState } from "./ring-state.js";
import type { StreamManager } from "./stream.js";

/** How another node sees a member (its /cluster/status row), as the shell's client reads it. */
export interface RemoteMemberView {
  readonly state: string;
  readonly tokens: number;
  readonly live: boolean;
}

export const TOPOLOGY_DEFAULTS = {
  /**
   * How long a new node looks for a seed that answers before it gives up (non-seed) or forms a
   * cluster (seed).
   */
  discoveryTimeoutMs: 10_000,
  /**
   * Gossip rounds a new node listens after first contact before it reads the ring: enough for state
   * to arrive.
   */
  settleGossipRounds: 2,
  /** How long a node waits for another ring change to finish before it gives up joining. */
  turnWaitMs: 10 * 60_000,
  /** How long to wait for every live member to see a status change before streaming anyway. */
  viewAgreementTimeoutMs: 15_000,
  /** How often the waits above look again. */
  pollIntervalMs: 200,
  /**
   * After a ring change completes, how long the ring must stay unchanged before cleanup deletes
   * ranges.
   */
  cleanupDelayMs: 5_000,
} as const;

export type TopologyOptions = { -readonly [K in keyof typeof TOPOLOGY_DEFAULTS]: number };

export interface TopologyContext {
  readonly self: NodeId;
  readonly replicationFactor: number;
  readonly vnodes: number;
  readonly gossipIntervalMs: number;
  readonly options: TopologyOptions;
  readonly engine: TopologyEngine;
  readonly streams: StreamManager;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly addressOf: (id: NodeId) => Address | undefined;
  readonly memberView: (address: Address, member: NodeId) => Promise<RemoteMemberView | undefined>;
  readonly persist: (state: RingState) => Promise<void>;
  /** True once the node is stopping: waits end early. */
  readonly stopping: () => boolean;
}

export class TopologyStoppedError extends Error {
  override readonly name = "TopologyStoppedError";
}

export function describeChange(change: RingChange): string {
  const verb =
    change.kind === "bootstrap"
      ? "is joining (bootstrap)"
      : change.kind === "decommission"
        ? "is leaving (decommission)"
        : "is being removed (removenode)";
  return `${change.id} ${verb}`;
}

export function sleep(context: TopologyContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    context.clock.schedule(ms, resolve);
  });
}

/**
 * Waits until `condition` holds, looking every pollIntervalMs; false when `timeoutMs` passed first.
 */
export async function waitUntil(
  context: TopologyContext,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = context.clock.nowMs() + timeoutMs;
  for (;;) {
    if (context.stopping()) throw new TopologyStoppedError("the node is stopping");
    if (await condition()) return true;
    if (context.clock.nowMs() >= deadline) return false;
    await sleep(context, context.options.pollIntervalMs);
  }
}

/** Live members other than this one that are in the cluster (not left, not removed). */
export function otherLiveMembers(
  context: TopologyContext,
  except: readonly NodeId[] = [],
): NodeId[] {
  return context.engine
    .membership()
    .filter(
      (member) =>
        member.id !== context.self &&
        member.live &&
        member.status !== "left" &&
        !except.includes(member.id),
    )
    .map((member) => member.id);
}

/**
 * Waits until every other live member reports `subject` as `accepts` says (its /cluster/status), or
 * viewAgreementTimeoutMs passes; returns the members that had not agreed by then.
 */
export async function awaitAgreement(
  context: TopologyContext,
  subject: NodeId,
  accepts: (view: RemoteMemberView | undefined) => boolean,
  what: string,
): Promise<NodeId[]> {
  const agreed = new Set<NodeId>();
  let pending: NodeId[] = [];
  await waitUntil(
    context,
    async () => {
      pending = otherLiveMembers(context, [subject]).filter((id) => !agreed.has(id));
      await Promise.all(
        pending.map(async (id) => {
          const address = context.addressOf(id);
          if (address === undefined) return;
          try {
            if (accepts(await context.memberView(address, subject))) agreed.add(id);
          } catch {
            // Unreachable now; asked again on the next look (or given up at the deadline).
          }
        }),
      );
      pending = pending.filter((id) => !agreed.has(id));
      return pending.length === 0;
    },
    context.options.viewAgreementTimeoutMs,
  );
  if (pending.length > 0)
    context.log.warn(
      { members: pending, what },
      "members did not confirm the ring change in time; going on",
    );
  return pending;
}
