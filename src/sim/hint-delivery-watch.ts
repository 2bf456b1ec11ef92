// sim/hint-delivery-watch.ts — the `hint-delivery` run invariant: a coordinator deletes a hint only
// once its target holds the hinted version (or a newer one), or for a reason that lets it go: the
// hint is past the hint window, the target refused its stamp as from the future, or the target no
// longer replicates the key (it left, or the ring moved the key). A hint deleted before its target
// acknowledged is lost when the replay then fails, and nothing the judge sees at the end shows it:
// the final repair copies the version over anyway.
//
// The watch reads every batch a machine's disk takes (sim-disk.ts): it remembers each hint put, and
// at each hint delete looks at what the target's disk holds for the key right then. The target
// stores a write before it acknowledges it, and the coordinator deletes after the acknowledgement,
// so a correct node never deletes first. Pure: the cluster is seen through HintDeliveryView.

import { tokenOf } from "../ring/partitioner.js";
import { decodeHint } from "../storage/hint-codec.js";
import type { StoredHint } from "../storage/hints.js";
import { NAMESPACE, encodeDataKey } from "../storage/layout.js";
import { compareRecords, decodeRecord } from "../storage/record.js";
import type { DiskOperation } from "./sim-database.js";

export const HINT_DELIVERY_LIMITS = {
  /**
   * A hint refused for its stamp is deleted a little after the refusal (when its replay batch ends:
   * 256 hints at 2,000 a second, hinted-handoff.ts), while the target's clock runs on; a stamp this
   * close to the target's limit at the delete still counts as refused. Never more than half the
   * allowed offset, so a hint stamped on time never passes for a refused one.
   */
  refusalSlackMs: 250,
} as const;

/** What the watch needs to know of the cluster. */
export interface HintDeliveryView {
  /** The machine's wall clock now, ms. */
  wallMsOf(id: string): number;
  /** What the machine's database holds at `key` now. */
  latest(id: string, key: Buffer): Buffer | undefined;
  /** The hint window and allowed clock offset of the node `id`; null while it is down. */
  limitsOf(id: string): { hintWindowMs: number; maxClockOffsetMs: number } | null;
  /** Whether `target` replicates `key` in the ring as node `id` sees it now. */
  replicates(id: string, target: string, key: string): boolean;
}

export class HintDeliveryWatch {
  readonly #view: HintDeliveryView;
  /** Each machine's hints on its disk, by storage key (latin1). */
  readonly #stored = new Map<string, Map<string, StoredHint>>();

  constructor(view: HintDeliveryView) {
    this.#view = view;
  }

  /**
   * A batch machine `id`'s disk took: remembers its hint puts; returns why each hint it deletes
   * should not go.
   */
  onBatch(id: string, operations: readonly DiskOperation[]): string[] {
    const breaches: string[] = [];
    let stored = this.#stored.get(id);
    for (const operation of operations) {
      if (operation.key[0] !== NAMESPACE.hints) continue;
      if (stored === undefined) {
        stored = new Map();
        this.#stored.set(id, stored);
      }
      const storageKey = operation.key.toString("latin1");
      if (operation.type === "put") {
        stored.set(storageKey, decodeHint(operation.key, operation.value));
        continue;
      }
      const hint = stored.get(storageKey);
      if (hint === undefined) continue;
      stored.delete(storageKey);
      const breach = this.#undelivered(id, hint);
      if (breach !== null) breaches.push(breach);
    }
    return breaches;
  }

  #undelivered(id: string, hint: StoredHint): string | null {
    const view = this.#view;
    const limits = view.limitsOf(id);
    if (limits === null || !view.replicates(id, hint.target, hint.key)) return null;
    if (hint.createdMs < view.wallMsOf(id) - limits.hintWindowMs) return null;
    const record = decodeRecord(hint.encodedRecord);
    const slackMs = Math.min(HINT_DELIVERY_LIMITS.refusalSlackMs, limits.maxClockOffsetMs / 2);
    const refusedAboveUs = (view.wallMsOf(hint.target) + limits.maxClockOffsetMs - slackMs) * 1000;
    if (record.timestampUs > refusedAboveUs) return null;
    const held = view.latest(hint.target, encodeDataKey(tokenOf(hint.key), hint.key));
    if (held !== undefined && compareRecords(decodeRecord(held), record) >= 0) return null;
    const holds = held === undefined ? "no version" : "an older version";
    return `${id} deleted its hint for ${hint.target} of ${JSON.stringify(hint.key)} (stamped ${record.timestampUs}) while ${hint.target} holds ${holds} of it`;
  }
}
