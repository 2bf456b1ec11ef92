// actions.js — the operator's actions, each behind a confirmation, through the same admin API the
// CLI uses (SPEC §3): repair of the node or of one range it replicates (POST /admin/repair), decommission (POST /admin/decommission) and
// removenode (POST /admin/removenode/:id). Refusals show the node's error message.

import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { postJson } from "./api.js";

/**
 * @typedef {{ title: string, detail: string, run: () => Promise<string> }} Action
 */

/** @param {{ status: any, ring: any, onRepairStarted: (id: string) => void }} props */
export function Actions({ status, ring, onRepairStarted }) {
  const [pending, setPending] = useState(/** @type {Action | null} */ (null));
  const [outcome, setOutcome] = useState("");
  const [removable, setRemovable] = useState("");
  const [rangePicked, setRangePicked] = useState("");
  const down = status.members.filter((m) => !m.live && m.id !== status.node);
  // The ranges this node replicates with at least one other replica: those a repair can compare.
  /** @type {string[]} */
  const ranges = (ring?.ranges ?? [])
    .filter((r) => r.replicas.includes(status.node) && r.replicas.length > 1)
    .map((r) => `${r.start}:${r.end}`);
  const range = ranges.includes(rangePicked) ? rangePicked : (ranges[0] ?? "");

  /** @param {string} picked @returns {Action} */
  const repairRange = (picked) => ({
    title: `Repair range ${picked}`,
    detail: `Compares the range (${picked.replace(":", ", ")}] with its other replicas and streams the differences.`,
    run: async () => {
      const { id } = await postJson(`/admin/repair?range=${encodeURIComponent(picked)}`);
      onRepairStarted(id);
      return `repair ${id} of range ${picked} started`;
    },
  });

  /** @param {boolean} dryRun @returns {Action} */
  const repair = (dryRun) => ({
    title: dryRun ? "Dry-run repair of this node" : `Repair ${status.node}`,
    detail: `Compares every range ${status.node} replicates with the other replicas${dryRun ? " and moves nothing" : " and streams the differences"}.`,
    run: async () => {
      const { id } = await postJson(`/admin/repair${dryRun ? "?dryRun=true" : ""}`);
      onRepairStarted(id);
      return `repair ${id} started`;
    },
  });
  /** @type {Action} */
  const decommission = {
    title: `Decommission ${status.node}`,
    detail: `${status.node} streams its ranges to the other members, leaves the ring and exits. This console will then lose its node.`,
    run: async () => `decommission: ${(await postJson("/admin/decommission")).change.state}`,
  };
  /** @param {string} id @returns {Action} */
  const removeNode = (id) => ({
    title: `Remove ${id}`,
    detail: `${id} is dropped from the ring for good; its ranges are streamed from the other replicas.`,
    run: async () =>
      `removenode ${id}: ${(await postJson(`/admin/removenode/${encodeURIComponent(id)}`)).change.state}`,
  });

  const confirm = async () => {
    const action = pending;
    setPending(null);
    if (action === null) return;
    try {
      setOutcome(await action.run());
    } catch (error) {
      setOutcome(
        `${action.title} refused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };

  const chosen =
    removable !== "" && down.some((m) => m.id === removable) ? removable : (down[0]?.id ?? "");
  return html`<div class="actions">
    <button data-action="repair" onClick=${() => setPending(repair(false))}>
      Repair this node
    </button>
    <button data-action="repair-dry-run" onClick=${() => setPending(repair(true))}>
      Dry-run repair
    </button>
    <span class="repair-range">
      <select
        value=${range}
        onChange=${(/** @type {any} */ e) => setRangePicked(e.currentTarget.value)}
        disabled=${ranges.length === 0}
      >
        ${ranges.length === 0 ? html`<option value="">no range to compare</option>` : ranges.map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
      <button
        data-action="repair-range"
        disabled=${range === ""}
        onClick=${() => setPending(repairRange(range))}
      >
        Repair range
      </button>
    </span>
    <button data-action="decommission" class="danger" onClick=${() => setPending(decommission)}>
      Decommission this node
    </button>
    <span class="removenode">
      <select
        value=${chosen}
        onChange=${(/** @type {any} */ e) => setRemovable(e.currentTarget.value)}
        disabled=${down.length === 0}
      >
        ${down.length === 0 ? html`<option value="">no member is down</option>` : down.map((m) => html`<option value=${m.id}>${m.id}</option>`)}
      </select>
      <button
        data-action="removenode"
        class="danger"
        disabled=${chosen === ""}
        onClick=${() => setPending(removeNode(chosen))}
      >
        Remove member
      </button>
    </span>
    <p class="outcome" role="status">${outcome}</p>
    ${
      pending !== null &&
      html`<div class="confirm" role="dialog" aria-modal="true" aria-label=${pending.title}>
        <div>
          <h3>${pending.title}?</h3>
          <p>${pending.detail}</p>
          <button data-confirm="yes" onClick=${confirm}>${pending.title}</button>
          <button data-confirm="no" onClick=${() => setPending(null)}>Cancel</button>
        </div>
      </div>`
    }
  </div>`;
}
