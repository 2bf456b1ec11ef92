// sim/ring-convergence.ts — do the live members agree on the ring once the run has healed and
// settled? Every member's view (the members, each one's status, and the tokens of the ring) must be
// the same; a run where they differ ends with a failed check that names who sees what, not a throw.
//
// Members that left or were removed are not members: a view that still lists one as left and a view
// that has forgotten it agree. Tokens are compared by the engines' ring fingerprints (cluster
// engine ringFingerprint), which are equal exactly when the normal members' tokens are.
// ringViewsViolation is pure; viewsOf reads them from a simulated cluster.

import { isTopologyEngine } from "../cluster/engine.js";
import type { CheckResult, Violation } from "./history/checker.js";
import type { DataCluster } from "./data-cluster.js";
import { runVirtual } from "./sim-loop.js";

/** How often settleRing looks whether the ring is quiet, virtual ms. */
const RING_SETTLE_POLL_MS = 100;

/** One member's view of the ring. */
export interface RingView {
  /** "id:status" of every member it sees, sorted. */
  readonly members: readonly string[];
  /** The fingerprint of its ring's owners and tokens. */
  readonly ring: string;
}

const keyOf = (view: RingView): string => `${view.members.join(" ")} ring ${view.ring}`;

/** Observers grouped by identical views, largest group first (ties by first observer). */
export function ringViewGroups(
  views: ReadonlyMap<string, RingView>,
): { readonly observers: string[]; readonly view: RingView }[] {
  const groups = new Map<string, { observers: string[]; view: RingView }>();
  for (const [observer, view] of views) {
    const key = keyOf(view);
    const group = groups.get(key) ?? { observers: [], view };
    group.observers.push(observer);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.observers.length - a.observers.length);
}

/**
 * A failed check when the views (which agree) hold another member set than the cluster's: a machine
 * that left (decommissioned, removed) still seen as a member, or a member not seen. Null otherwise.
 */
export function ringViewStrangers(
  views: ReadonlyMap<string, RingView>,
  members: readonly string[],
): Violation | null {
  const first = views.entries().next();
  if (first.done === true) return null;
  const [observer, view] = first.value;
  const seen = view.members.map((member) => member.slice(0, member.lastIndexOf(":")));
  const extra = view.members.filter((_, i) => !members.includes(seen[i] as string));
  const missing = members.filter((member) => !seen.includes(member));
  if (extra.length === 0 && missing.length === 0) return null;
  const parts = [
    ...(extra.length === 0 ? [] : [`still see ${extra.join(" ")}, which left the cluster`]),
    ...(missing.length === 0 ? [] : [`do not see ${missing.join(" ")}`]),
  ];
  const observers = [...views.keys()].join(" ");
  return {
    kind: "ring-views-differ",
    key: "",
    ops: [],
    message: `after settle [${observers}] (as ${observer}) ${parts.join(" and ")}`,
  };
}

/** A failed check naming the members whose views differ, or null when all agree. */
export function ringViewsViolation(views: ReadonlyMap<string, RingView>): Violation | null {
  const groups = ringViewGroups(views);
  if (groups.length <= 1) return null;
  const shown = groups.map(
    ({ observers, view }) =>
      `[${observers.join(" ")}] see ${view.members.join(" ")} (ring ${view.ring})`,
  );
  return {
    kind: "ring-views-differ",
    key: "",
    ops: [],
    message: `ring views differ after settle: ${shown.join("; ")}`,
  };
}

/** The ring view of every member that is up, read from its engine. */
export function viewsOf(cluster: DataCluster): Map<string, RingView> {
  const views = new Map<string, RingView>();
  for (const id of cluster.ids()) {
    const node = cluster.node(id);
    if (node === null || cluster.stateOf(id) !== "up") continue;
    const { engine } = node;
    const removed = (member: string): boolean =>
      isTopologyEngine(engine) && engine.isRemoved(member);
    const members = engine
      .membership()
      .filter((member) => member.status !== "left" && !removed(member.id))
      .map((member) => `${member.id}:${member.status}`)
      .sort();
    views.set(id, { members, ring: engine.ringFingerprint() });
  }
  return views;
}

/**
 * The ring changes up members still see in progress, and members not normal, as "n6:joining" lines;
 * empty when quiet.
 */
export function unfinishedChanges(
  cluster: DataCluster,
  views: ReadonlyMap<string, RingView> = viewsOf(cluster),
): string[] {
  const found = new Set<string>();
  for (const [id, view] of views) {
    const engine = cluster.node(id)?.engine;
    if (engine !== undefined && isTopologyEngine(engine)) {
      for (const change of engine.ringChanges()) found.add(`${change.kind} ${change.id}`);
    }
    for (const member of view.members) if (!member.endsWith(":normal")) found.add(member);
  }
  return [...found].sort();
}

/**
 * The ring's verdict on the up members' views: views that differ, else a member set other than the
 * cluster's (`members`), else changes that never finished (`unfinished`, a joiner still joining, a
 * removal still running), as one failed check; null when the ring is quiet. Pure.
 */
export function ringVerdict(
  views: ReadonlyMap<string, RingView>,
  members: readonly string[],
  unfinished: readonly string[],
): Violation | null {
  const differ = ringViewsViolation(views);
  if (differ !== null) return differ;
  const strangers = ringViewStrangers(views, members);
  if (strangers !== null) return strangers;
  if (unfinished.length === 0) return null;
  const message = `ring changes unfinished after settle, seen by [${[...views.keys()].join(" ")}]: ${unfinished.join(", ")}`;
  return { kind: "ring-views-differ", key: "", ops: [], message };
}

/**
 * Whether the ring is quiet: exactly what ringCheck judges, so settleRing waits for all of it. A
 * decommissioned node is out of every view while it still lingers before its exit (topology-service
 * DECOMMISSION_EXIT_LINGER_MS and its graceful stop); waiting on the views alone ended the settle
 * in that gap and the check then failed on a machine about to leave (seed 1024439534).
 */
export function ringQuiet(cluster: DataCluster): boolean {
  return ringCheck(cluster) === null;
}

/** The ring's verdict after settle (ringVerdict on the cluster as it is now). */
export function ringCheck(cluster: DataCluster): Violation | null {
  const views = viewsOf(cluster);
  return ringVerdict(views, cluster.ids(), unfinishedChanges(cluster, views));
}

/**
 * Runs the cluster until its ring is quiet (ringQuiet), looking every pollMs, for at most limitMs;
 * never throws.
 */
export async function settleRing(
  cluster: DataCluster,
  limitMs: number,
  pollMs = RING_SETTLE_POLL_MS,
): Promise<void> {
  const { clock } = cluster;
  const progress = { quiet: false, over: false };
  const look = (): void => {
    if (progress.over) return;
    if (ringQuiet(cluster)) progress.quiet = true;
    else clock.schedule(pollMs, look);
  };
  look();
  await runVirtual(clock, clock.nowMs() + limitMs, () => progress.quiet);
  progress.over = true;
}

/** The history's verdict with the ring check's violation, if any, added. */
export function withRingCheck(check: CheckResult, violation: Violation | null): CheckResult {
  if (violation === null) return check;
  const violations = [...check.violations, violation];
  return { ok: false, summary: { ...check.summary, violations: violations.length }, violations };
}
