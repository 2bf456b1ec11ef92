// test/support/view-net.ts — ClusterViews (the pure membership core) wired through an in-memory
// network under virtual time: every message is delivered at once, in order. Shared by the cluster
// unit tests of saved members and of a clean stop's shutdown.

import { createRandom } from "../../src/core/random.js";
import { createClusterEngine, type ClusterView } from "../../src/cluster/cluster-view.js";
import type { ClusterEvent, Outbound } from "../../src/cluster/engine.js";
import { NO_SAVED_MEMBERSHIP, type SavedMembership } from "../../src/cluster/saved-members.js";

export const GENERATION = 1_700_000_000_000;
export const GOSSIP_INTERVAL_MS = 1_000;
export const IDS = ["n1", "n2", "n3", "n4"];

export function addressOf(id: string): string {
  return `127.0.0.1:${7000 + IDS.indexOf(id) + 1}`;
}

export function tokensOf(id: string): bigint[] {
  const base = BigInt(IDS.indexOf(id) + 1) << 56n;
  return [base, base + (1n << 52n)];
}

/** Views on an in-memory network; each view's events are kept until eventsOf takes them. */
export class ViewNet {
  readonly views = new Map<string, ClusterView>();
  readonly events = new Map<string, ClusterEvent[]>();
  nowMs = 0;

  /** `seeds`: the ids every view starts from. */
  constructor(private readonly seeds: readonly string[]) {}

  add(id: string, generation: number, saved: SavedMembership = NO_SAVED_MEMBERSHIP): ClusterView {
    const view = createClusterEngine(
      {
        id,
        address: addressOf(id),
        generation,
        tokens: tokensOf(id),
        status: "normal",
        seeds: this.seeds.map(addressOf),
        replicationFactor: 3,
        gossipIntervalMs: GOSSIP_INTERVAL_MS,
        phiThreshold: 8,
        saved,
      },
      createRandom(generation % 10_000),
    );
    this.views.set(id, view);
    return view;
  }

  view(id: string): ClusterView {
    const view = this.views.get(id);
    if (view === undefined) throw new Error(`no view ${id}`);
    return view;
  }

  /** Stops a node: it says nothing more, and its saved membership is what it wrote last. */
  stop(id: string): SavedMembership {
    const saved = this.view(id).savedMembership();
    this.views.delete(id);
    this.events.delete(id);
    return saved;
  }

  deliver(outbounds: readonly Outbound[]): void {
    const queue = [...outbounds];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const target = [...this.views.entries()].find(([id]) => addressOf(id) === next.address)?.[1];
      if (target !== undefined) queue.push(...target.receive(next.message, this.nowMs));
    }
  }

  /** Ticks every view for `ms` of virtual time, delivering what each sends. */
  run(ms: number, tickMs = GOSSIP_INTERVAL_MS / 2): void {
    for (let t = 0; t < ms; t += tickMs) {
      this.nowMs += tickMs;
      for (const view of [...this.views.values()]) this.deliver(view.tick(this.nowMs));
      this.collect();
    }
  }

  collect(): void {
    for (const [id, view] of this.views)
      this.events.set(id, [...(this.events.get(id) ?? []), ...view.takeEvents()]);
  }

  eventsOf(id: string): ClusterEvent[] {
    this.collect();
    const events = this.events.get(id) ?? [];
    this.events.set(id, []);
    return events;
  }
}
