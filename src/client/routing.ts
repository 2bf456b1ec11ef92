// client/routing.ts — which node each attempt of a call goes to.
//
// Token-aware: the live replicas of the key first, starting at a random one of them so that the
// coordinating work of a hot key spreads over its replicas; then the other live members (any node
// coordinates any key, one hop further); then the members believed down, in case the belief is
// stale. Any-node: every live member in turn, round-robin, then those believed down. Before the
// ring is known the seeds stand for the members. A node is believed down when the ring says so or
// when this client saw it fail lately (suspect): a refused connection, no answer, or a 503; a
// success clears that.
//
// Pure: the time is an argument and chance comes from the injected Random.

import { randomInt, type Random } from "../core/random.js";
import { CLIENT_LIMITS, type Routing } from "./options.js";
import type { RingSnapshot, SnapshotMember } from "./ring-snapshot.js";

function rotate<T>(items: readonly T[], start: number): T[] {
  if (items.length === 0) return [];
  const at = start % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

export class Router {
  #turn = 0;
  /** Base URL → the time until which it is tried last. */
  readonly #suspects = new Map<string, number>();

  constructor(
    private readonly routing: Routing,
    private readonly seeds: readonly string[],
    private readonly random: Random,
  ) {}

  suspect(url: string, nowMs: number): void {
    this.#suspects.set(url, nowMs + CLIENT_LIMITS.suspectMs);
  }

  cleared(url: string): void {
    this.#suspects.delete(url);
  }

  #healthy(member: SnapshotMember, nowMs: number): boolean {
    if (!member.live) return false;
    const until = this.#suspects.get(member.url);
    if (until === undefined) return true;
    if (until > nowMs) return false;
    this.#suspects.delete(member.url);
    return true;
  }

  /** The base URLs a call tries, best first; attempt n goes to entry n modulo its length. */
  plan(snapshot: RingSnapshot | null, key: string, nowMs: number): string[] {
    const members: readonly SnapshotMember[] =
      snapshot?.members ?? this.seeds.map((url) => ({ id: url, url, live: true }));
    const turn = this.#turn++;
    const healthy = members.filter((member) => this.#healthy(member, nowMs));
    const down = members.filter((member) => !healthy.includes(member));
    if (this.routing === "any-node" || snapshot === null)
      return [...rotate(healthy, turn), ...rotate(down, turn)].map((member) => member.url);
    const replicas = snapshot.replicasOf(key);
    const liveReplicas = replicas.filter((member) => healthy.includes(member));
    const first = rotate(liveReplicas, randomInt(this.random, Math.max(1, liveReplicas.length)));
    const others = healthy.filter((member) => !replicas.includes(member));
    const downReplicas = replicas.filter((member) => !healthy.includes(member));
    const downOthers = down.filter((member) => !replicas.includes(member));
    return [...first, ...rotate(others, turn), ...downReplicas, ...downOthers].map(
      (member) => member.url,
    );
  }
}
