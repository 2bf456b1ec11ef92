// members.js — the members table: one row per member as the serving node sees it
// (/cluster/status), with what this node holds for each (hints pending, from its /metrics) and its
// clock offset to each peer. A member's row turns red as soon as the node counts it down.

import { html } from "htm/preact";
import { colourOf } from "./colours.js";
import { bytesText, countText, durationText } from "./format.js";

/**
 * @param {{ status: any, heartbeatAge: Map<string, number>, hints: { count: Map<string, number>, bytes: Map<string, number> }, replicas: readonly string[] }} props
 */
export function Members({ status, heartbeatAge, hints, replicas }) {
  const offsets = new Map((status.clock?.peers ?? []).map((peer) => [peer.id, peer]));
  return html`<table class="members">
    <thead>
      <tr>
        <th>member</th>
        <th>address</th>
        <th>state</th>
        <th>liveness</th>
        <th>phi</th>
        <th title="since this page last saw its heartbeat go up">heartbeat age</th>
        <th>tokens</th>
        <th>ownership</th>
        <th>keys</th>
        <th>bytes</th>
        <th title="hints this node holds for the member">hints pending</th>
        <th title="the member's clock minus this node's">clock offset</th>
      </tr>
    </thead>
    <tbody>
      ${status.members.map((member) => {
        const offset = offsets.get(member.id);
        const self = member.id === status.node;
        const rowClass = [
          member.live ? "up" : "down",
          replicas.includes(member.id) ? "replica" : "",
        ].join(" ");
        return html`<tr class=${rowClass} data-member=${member.id} data-live=${String(member.live)}>
          <td>
            <span class="swatch" style=${`background:${colourOf(member.id)}`}></span>${
              self
                ? `${member.id} (this node)`
                : html`<a
                    href=${`http://${member.address}/ui/`}
                    title=${`this console, seen from ${member.id}`}
                    >${member.id}</a
                  >`
            }
          </td>
          <td>${member.address}</td>
          <td>${member.state}</td>
          <td class="liveness">
            ${member.live ? "up" : member.shutdown === true ? "down (stopped)" : "down"}
          </td>
          <td>${member.phi === null ? "—" : member.phi > 1e6 ? "∞" : member.phi.toFixed(2)}</td>
          <td>${self ? "—" : durationText(heartbeatAge.get(member.id))}</td>
          <td>${member.tokens}</td>
          <td>${(member.ownership * 100).toFixed(1)} %</td>
          <td>${countText(member.keys)}</td>
          <td>${bytesText(member.bytes)}</td>
          <td>
            ${self ? "—" : `${countText(hints.count.get(member.id) ?? 0)} (${bytesText(hints.bytes.get(member.id) ?? 0)})`}
          </td>
          <td>
            ${offset === undefined ? "—" : `${offset.offsetMs >= 0 ? "+" : ""}${offset.offsetMs.toFixed(1)} ± ${offset.errorMs.toFixed(1)} ms`}
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}
