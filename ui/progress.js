// progress.js — work in progress on the node, each with a rate and an ETA measured between two
// polls: hint replay (hints pending against hints replayed per second), repairs started from this
// page (ranges compared per second), range streams of ring changes (progress per second) and the
// ring change the node runs.

import { html } from "htm/preact";
import { bytesText, countText, durationText, rateText } from "./format.js";

/**
 * Rate of a growing quantity between two polls, and the time left for `remaining` at that rate.
 * @param {number} before @param {number} after @param {number} seconds @param {number} remaining
 */
export function rateAndEta(before, after, seconds, remaining) {
  const rate = seconds > 0 ? Math.max(0, after - before) / seconds : 0;
  return { rate, eta: rate > 0 ? remaining / rate : remaining === 0 ? 0 : null };
}

/** @param {{ value: number }} props 0..1 */
function Bar({ value }) {
  const percent = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return html`<span class="bar"><span style=${`width:${percent}%`}></span></span> ${percent} %`;
}

/** @param {{ hints: { pending: number, bytes: number, rate: number, eta: number | null } }} props */
function Hints({ hints }) {
  return html`<tr data-kind="hints">
    <td>hint replay</td>
    <td>${countText(hints.pending)} pending (${bytesText(hints.bytes)})</td>
    <td>${rateText(hints.rate, "hints")}</td>
    <td>${hints.pending === 0 ? "—" : durationText(hints.eta)}</td>
  </tr>`;
}

/** @param {{ job: any }} props */
function Repair({ job }) {
  const { body } = job;
  const ranges = body.progress.ranges;
  const done = body.state === "done" ? 1 : ranges > 0 ? body.progress.rangesCompared / ranges : 0;
  return html`<tr data-kind="repair" data-repair=${body.id} data-state=${body.state}>
    <td>
      repair
      ${body.id}${body.range ? ` of range ${body.range}` : ""}${body.dryRun ? " (dry run)" : ""}
    </td>
    <td>
      <${Bar} value=${done} /> ${body.state}, ranges ${body.progress.rangesCompared}/${ranges},
      peers ${body.progress.peersDone}/${body.progress.peers}, keys
      ↓${countText(body.summary.keysReceived)}
      ↑${countText(body.summary.keysSent)}${body.failures.length > 0 ? `, ${body.failures.length} failed` : ""}
    </td>
    <td>${rateText(job.rate, "ranges")}</td>
    <td>
      ${body.state === "running" ? durationText(job.eta) : `took ${durationText(body.summary.seconds)}`}
    </td>
  </tr>`;
}

/** @param {{ stream: any }} props */
function Stream({ stream }) {
  return html`<tr data-kind="stream" data-state=${stream.state}>
    <td>stream ${stream.source ?? "?"} → ${stream.target}</td>
    <td>
      <${Bar} value=${stream.progress} /> ${stream.state}, ${countText(stream.keys)} keys,
      ${bytesText(stream.bytes)}
    </td>
    <td>${rateText(stream.bytesRate ?? 0, "B")}</td>
    <td>${stream.state === "streaming" ? durationText(stream.eta) : "—"}</td>
  </tr>`;
}

/** @param {{ hints: any, repairs: any[], streams: any[], change: any }} props */
export function Progress({ hints, repairs, streams, change }) {
  return html`<table class="progress">
    <thead>
      <tr>
        <th>work</th>
        <th>progress</th>
        <th>rate</th>
        <th>ETA</th>
      </tr>
    </thead>
    <tbody>
      <${Hints} hints=${hints} />
      ${repairs.map((job) => html`<${Repair} key=${job.body.id} job=${job} />`)}
      ${streams.map((stream) => html`<${Stream} key=${stream.id} stream=${stream} />`)}
      ${
        change !== null &&
        change !== undefined &&
        html`<tr data-kind="change">
          <td>${change.kind} ${change.id}</td>
          <td>
            ${change.state}, ${countText(change.keys)} keys,
            ${bytesText(change.bytes)}${change.error ? `: ${change.error}` : ""}
          </td>
          <td></td>
          <td>${durationText(change.seconds)}</td>
        </tr>`
      }
    </tbody>
  </table>`;
}
