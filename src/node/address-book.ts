// node/address-book.ts — member id → address for the replica and repair clients. Rebuilt from the
// engine whenever it reports a membership event; a lookup of an unknown member rebuilds it too, but
// at most once per addressRefreshIntervalMs, so a burst of requests to a departed member costs one
// scan.

import type { Clock } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import type { ClusterEngine } from "../cluster/engine.js";
import { NODE_MAINTENANCE } from "./node-settings.js";

export class AddressBook {
  readonly #addresses = new Map<NodeId, Address>();
  #refreshedMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly engine: Pick<ClusterEngine, "members">,
    private readonly clock: Clock,
  ) {
    this.refresh();
  }

  refresh(): void {
    const nowMs = this.clock.nowMs();
    this.#addresses.clear();
    for (const member of this.engine.members(nowMs)) this.#addresses.set(member.id, member.address);
    this.#refreshedMs = nowMs;
  }

  /** A bound function, for the clients' deps. */
  readonly addressOf = (id: NodeId): Address | undefined => {
    const known = this.#addresses.get(id);
    if (known !== undefined) return known;
    if (this.clock.nowMs() - this.#refreshedMs < NODE_MAINTENANCE.addressRefreshIntervalMs)
      return undefined;
    this.refresh();
    return this.#addresses.get(id);
  };
}
