// ring.js — the ring as a circle: every range (start, end] is an arc in its owner's colour, a
// leaving member's arcs dashed, range streams in progress as inner arcs, and for a key typed in,
// its token marked and the ranges that make its replicas (walking clockwise from the token, the
// first range of each new owner: SimpleStrategy) drawn in an outer band.

import { html } from "htm/preact";
import { colourOf } from "./colours.js";

const SIZE = 360;
const CENTRE = SIZE / 2;
const RING_RADIUS = 130;
const RING_WIDTH = 26;
const REPLICA_RADIUS = RING_RADIUS + RING_WIDTH / 2 + 10;
const STREAM_RADIUS = RING_RADIUS - RING_WIDTH / 2 - 14;
/** Tokens are 64-bit; the first 48 bits place them on the circle to well under a pixel. */
const PLACE_HEX_DIGITS = 12;
const PLACE_SCALE = 2 ** 48;

/** @param {string} token 16 hex digits @returns {number} 0 ≤ turn < 1 */
export function turnOf(token) {
  return parseInt(token.slice(0, PLACE_HEX_DIGITS), 16) / PLACE_SCALE;
}

/** @param {number} turn @param {number} radius */
function point(turn, radius) {
  const angle = turn * 2 * Math.PI - Math.PI / 2;
  return [CENTRE + radius * Math.cos(angle), CENTRE + radius * Math.sin(angle)];
}

/** The SVG path of the arc from `start` to `end` (turns, clockwise) at `radius`. */
function arc(/** @type {number} */ start, /** @type {number} */ end, /** @type {number} */ radius) {
  let sweep = end - start;
  if (sweep <= 0) sweep += 1;
  if (sweep >= 0.9999) sweep = 0.9999;
  const [x0, y0] = point(start, radius);
  const [x1, y1] = point(start + sweep, radius);
  const large = sweep > 0.5 ? 1 : 0;
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${radius} ${radius} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

/**
 * The ranges whose owners are the key's replicas: from the range holding the token, clockwise,
 * the first range of each owner not met yet.
 * @param {{ start: string, end: string, owner: string }[]} ranges  in ring order
 * @param {string} token @param {readonly string[]} replicas
 */
export function replicaRanges(ranges, token, replicas) {
  if (ranges.length === 0) return [];
  let first = ranges.findIndex((range) => range.end >= token);
  if (first === -1) first = 0;
  const picked = [];
  const seen = new Set();
  for (let step = 0; step < ranges.length && seen.size < replicas.length; step++) {
    const range = ranges[(first + step) % ranges.length];
    if (!replicas.includes(range.owner) || seen.has(range.owner)) continue;
    seen.add(range.owner);
    picked.push(range);
  }
  return picked;
}

/**
 * @param {{ ring: any, members: any[], streams: any[], lookup: any }} props
 *   ring: /cluster/ring; members: /cluster/status members; streams: its streams; lookup:
 *   /cluster/replicas for the key typed in, or null
 */
export function Ring({ ring, members, streams, lookup }) {
  const ranges = ring?.ranges ?? [];
  const leaving = new Set(members.filter((m) => m.state === "leaving").map((m) => m.id));
  const active = streams.filter((s) => s.state !== "done" && s.state !== "failed");
  const highlighted = lookup === null ? [] : replicaRanges(ranges, lookup.token, lookup.replicas);
  return html`<div class="ring-holder">
    ${RingSvg(ranges, leaving, active, highlighted, lookup, ring)}
    <ul class="ring-legend">
      ${members.map(
        (m) =>
          html`<li data-member=${m.id}>
            <span class="swatch" style=${`background:${colourOf(m.id)}`}></span>${m.id}
            ${m.state === "normal" ? "" : ` (${m.state}${m.state === "joining" ? ": no tokens yet" : ""})`}
          </li>`,
      )}
    </ul>
  </div>`;
}

/**
 * @param {any[]} ranges @param {Set<string>} leaving @param {any[]} active @param {any[]} highlighted
 * @param {any} lookup @param {any} ring
 */
function RingSvg(ranges, leaving, active, highlighted, lookup, ring) {
  return html`<svg
    class="ring"
    viewBox="0 0 ${SIZE} ${SIZE}"
    width=${SIZE}
    height=${SIZE}
    role="img"
    aria-label="the token ring"
  >
    <circle cx=${CENTRE} cy=${CENTRE} r=${RING_RADIUS} class="ring-empty" />
    ${ranges.map(
      (range) =>
        html`<path
          d=${arc(turnOf(range.start), turnOf(range.end), RING_RADIUS)}
          stroke=${colourOf(range.owner)}
          stroke-width=${RING_WIDTH}
          stroke-dasharray=${leaving.has(range.owner) ? "3 3" : null}
          fill="none"
          data-owner=${range.owner}
          ><title>
            ${range.owner}: (${range.start}, ${range.end}] replicas ${range.replicas.join(", ")}
          </title></path
        >`,
    )}
    ${active.map(
      (stream) =>
        html`<path
          class="stream-arc"
          d=${arc(turnOf(stream.start), turnOf(stream.end), STREAM_RADIUS)}
          stroke=${colourOf(stream.target)}
          stroke-width="8"
          fill="none"
          ><title>
            stream ${stream.source ?? "?"} → ${stream.target}: ${Math.round(stream.progress * 100)}%
          </title></path
        >`,
    )}
    ${highlighted.map(
      (range) =>
        html`<path
          class="replica-arc"
          d=${arc(turnOf(range.start), turnOf(range.end), REPLICA_RADIUS)}
          stroke=${colourOf(range.owner)}
          stroke-width="8"
          fill="none"
          data-replica=${range.owner}
        />`,
    )}
    ${lookup !== null && html`<${KeyMarker} token=${lookup.token} />`}
    <text x=${CENTRE} y=${CENTRE - 6} class="ring-caption">${ring?.tokens.length ?? 0} tokens</text>
    <text x=${CENTRE} y=${CENTRE + 14} class="ring-caption">
      rf ${ring?.replicationFactor ?? "?"}
    </text>
  </svg>`;
}

function KeyMarker(/** @type {{ token: string }} */ { token }) {
  const [x0, y0] = point(turnOf(token), RING_RADIUS - RING_WIDTH / 2 - 4);
  const [x1, y1] = point(turnOf(token), REPLICA_RADIUS + 10);
  return html`<line class="key-marker" x1=${x0} y1=${y0} x2=${x1} y2=${y1} />`;
}
