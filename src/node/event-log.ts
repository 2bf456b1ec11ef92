// node/event-log.ts — the membership and ring events an operator reads in the log: at info a node
// logs who joined, went up or down (and on what evidence), restarted, changed status or was
// removed, and each change of the ring once it serves clients; not traffic.
//
// A member's evidence is what this node's view holds when the verdict lands: whether the member
// announced a clean stop (a shutdown, not a failure) or was convicted by its monitors' votes, and
// this node's own phi for it when this node is one of its monitors. The ring is logged once per
// distinct ring (its fingerprint), so the same change heard in several events is one line; while
// the node is still learning the ring at start, the changes go to debug, and "ring learned" says
// when that ends (tick-loop.ts).

import type { Clock } from "../core/clock.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterEngine, ClusterEvent, MemberView } from "../cluster/engine.js";
import type { Logger } from "./logger.js";

/** Phi to one decimal: enough to compare with the threshold, no noise in the line. */
const PHI_DECIMALS = 10;

export type EventLogEngine = Pick<ClusterEngine, "members" | "ring" | "ringFingerprint">;

export class ClusterEventLog {
  #ringFingerprint: string | null = null;

  constructor(
    private readonly log: Logger,
    private readonly engine: EventLogEngine,
    private readonly clock: Clock,
    /** True once the node serves clients: ring changes before that are its learning the ring. */
    private readonly learned: () => boolean,
  ) {}

  record(event: ClusterEvent): void {
    const { log } = this;
    switch (event.kind) {
      case "member-joined": {
        const member = this.#member(event.id);
        log.info(
          { member: event.id, address: member?.address, tokens: member?.tokens },
          "member joined",
        );
        return;
      }
      case "member-up":
        log.info({ member: event.id, ...this.#seen(event.id) }, "member up");
        return;
      case "member-down":
        log.info({ member: event.id, ...this.#evidence(event.id) }, "member down");
        return;
      case "member-restarted":
        log.info({ member: event.id, generation: event.generation }, "member restarted");
        return;
      case "status-changed":
        log.info({ member: event.id, status: event.status }, "member status changed");
        return;
      case "member-removed":
        log.info({ member: event.id }, "member removed");
        return;
      case "tokens-changed":
        this.#ringChanged();
        return;
    }
  }

  #member(id: NodeId): MemberView | undefined {
    return this.engine.members(this.clock.nowMs()).find((candidate) => candidate.id === id);
  }

  #seen(id: NodeId): Record<string, unknown> {
    const member = this.#member(id);
    return member === undefined ? {} : { address: member.address, generation: member.generation };
  }

  /** Why the member counts as down, as far as this node's view says. */
  #evidence(id: NodeId): Record<string, unknown> {
    const member = this.#member(id);
    if (member === undefined) return {};
    const phi =
      member.phi === null || !Number.isFinite(member.phi)
        ? member.phi
        : Math.round(member.phi * PHI_DECIMALS) / PHI_DECIMALS;
    return {
      address: member.address,
      generation: member.generation,
      cause: member.shutdown === true ? "announced a clean stop" : "convicted by its monitors",
      // This node's own phi, when it is one of the member's monitors; null otherwise.
      phi,
    };
  }

  #ringChanged(): void {
    const fingerprint = this.engine.ringFingerprint();
    if (fingerprint === this.#ringFingerprint) return;
    this.#ringFingerprint = fingerprint;
    const ring = this.engine.ring();
    const fields = { nodes: ring.nodes().length, tokens: ring.size };
    if (this.learned()) this.log.info(fields, "ring changed");
    else this.log.debug(fields, "ring changed");
  }
}
