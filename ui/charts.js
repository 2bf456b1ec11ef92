// charts.js — requests per second and p50/p99 latency per operation over the last minutes, drawn
// with uPlot from the windows the page computed between consecutive scrapes of /metrics.

import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { KV_ROUTES } from "./metrics.js";

const WIDTH = 520;
const HEIGHT = 200;
const ROUTE_COLOURS = { get: "#4e79a7", put: "#f28e2b", delete: "#e15759" };

/**
 * @typedef {{ t: number, routes: Record<string, { rate: number, p50: number | null, p99: number | null }> }} Point
 */

/** @param {{ title: string, unit: string, series: { label: string, stroke: string, dash?: number[], value: (p: Point) => number | null }[], history: Point[] }} props */
function Chart({ title, unit, series, history }) {
  const holder = useRef(/** @type {HTMLDivElement | null} */ (null));
  const plot = useRef(/** @type {uPlot | null} */ (null));
  const data = () => [history.map((p) => p.t), ...series.map((s) => history.map(s.value))];
  useEffect(() => {
    if (holder.current === null) return undefined;
    plot.current = new uPlot(
      {
        width: WIDTH,
        height: HEIGHT,
        title,
        scales: { x: { time: true } },
        // The legend names the series; the values under the cursor would only repeat the plot.
        legend: { live: false },
        axes: [{}, { label: unit, size: 60 }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            dash: s.dash,
            width: 2,
            spanGaps: true,
          })),
        ],
      },
      /** @type {any} */ (data()),
      holder.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(/** @type {any} */ (data()));
  }, [history]);
  return html`<div class="chart" ref=${holder}></div>`;
}

/** @param {{ history: Point[] }} props */
export function Throughput({ history }) {
  const series = KV_ROUTES.map((route) => ({
    label: route,
    stroke: ROUTE_COLOURS[route],
    value: (/** @type {Point} */ p) => p.routes[route]?.rate ?? null,
  }));
  return html`<${Chart}
    title="requests per second"
    unit="req/s"
    series=${series}
    history=${history}
  />`;
}

/** @param {{ history: Point[] }} props */
export function Latency({ history }) {
  const series = KV_ROUTES.flatMap((route) => [
    {
      label: `${route} p50`,
      stroke: ROUTE_COLOURS[route],
      value: (/** @type {Point} */ p) => p.routes[route]?.p50 ?? null,
    },
    {
      label: `${route} p99`,
      stroke: ROUTE_COLOURS[route],
      dash: [4, 4],
      value: (/** @type {Point} */ p) => p.routes[route]?.p99 ?? null,
    },
  ]);
  return html`<${Chart}
    title="latency (this node coordinating)"
    unit="ms"
    series=${series}
    history=${history}
  />`;
}
