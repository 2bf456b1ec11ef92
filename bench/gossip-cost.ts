// bench/gossip-cost.ts — what membership costs each node at steady state: bytes sent per second,
// heartbeats and gossip together, in the simulator (which encodes every message exactly as the wire
// does; the figure is msgpack body bytes, before HTTP framing). Target: at most 1 KB/s per node at
// N = 1,000 (Cassandra's digest-per-member design: about 31 KB/s; memberlist: about 200-570 B/s).
//
// Usage: npx tsx bench/gossip-cost.ts [--sizes 16,64,256,1000] [--window 60]

import { writeBenchReport } from "./lib/report.js";
import { intFlag, listFlag, settledCluster } from "./lib/sim.js";

const SIZES = listFlag("sizes", [16, 64, 256, 1_000]);
const WINDOW_S = intFlag("window", 60);
const TARGET_BYTES_PER_S = 1_024;

interface Row {
  n: number;
  meanBytesPerNodeS: number;
  maxBytesPerNodeS: number;
  messagesPerNodeS: number;
  byKind: Record<string, { bytesPerNodeS: number; messagesPerNodeS: number }>;
}

const rows: Row[] = [];
for (const n of SIZES) {
  const wallStart = performance.now();
  const { cluster } = settledCluster({ seed: 7_000 + n, nodeCount: n });
  const ids = cluster.ids();
  const before = new Map(
    ids
      .map((id) => ({ ...cluster.traffic(id), id }))
      .map((t) => [t.id, { bytes: t.bytesSent, messages: t.messagesSent }]),
  );
  const kindsBefore = new Map(
    [...cluster.network.stats().sentByKind].map(([kind, traffic]) => [kind, { ...traffic }]),
  );
  cluster.runFor(WINDOW_S * 1_000);
  const perNode = ids.map((id) => {
    const start = before.get(id) as { bytes: number; messages: number };
    const now = cluster.traffic(id);
    return {
      bytes: (now.bytesSent - start.bytes) / WINDOW_S,
      messages: (now.messagesSent - start.messages) / WINDOW_S,
    };
  });
  const byKind: Row["byKind"] = {};
  for (const [kind, traffic] of cluster.network.stats().sentByKind) {
    const start = kindsBefore.get(kind) ?? { bytes: 0, messages: 0 };
    byKind[kind] = {
      bytesPerNodeS: (traffic.bytes - start.bytes) / WINDOW_S / n,
      messagesPerNodeS: (traffic.messages - start.messages) / WINDOW_S / n,
    };
  }
  rows.push({
    n,
    meanBytesPerNodeS: perNode.reduce((sum, node) => sum + node.bytes, 0) / n,
    maxBytesPerNodeS: Math.max(...perNode.map((node) => node.bytes)),
    messagesPerNodeS: perNode.reduce((sum, node) => sum + node.messages, 0) / n,
    byKind,
  });
  process.stderr.write(
    `N=${n}: ${(rows.at(-1) as Row).meanBytesPerNodeS.toFixed(0)} B/s per node (${((performance.now() - wallStart) / 1000).toFixed(1)} s wall)\n`,
  );
}

console.log("\nMembership traffic per node at steady state (msgpack body bytes sent)");
console.log("     N   mean B/s   max B/s   msgs/s   by kind (B/s)");
for (const row of rows) {
  const kinds = Object.entries(row.byKind)
    .sort((a, b) => b[1].bytesPerNodeS - a[1].bytesPerNodeS)
    .map(([kind, traffic]) => `${kind} ${traffic.bytesPerNodeS.toFixed(0)}`)
    .join(", ");
  console.log(
    `${String(row.n).padStart(6)}  ${row.meanBytesPerNodeS.toFixed(0).padStart(9)}  ${row.maxBytesPerNodeS.toFixed(0).padStart(8)}  ${row.messagesPerNodeS.toFixed(1).padStart(7)}   ${kinds}`,
  );
}

const at1000 = rows.find((row) => row.n === 1_000);
const written = await writeBenchReport({
  name: "gossip-cost",
  description:
    "Simulator, default settings, after convergence: msgpack body bytes each node sends per second for heartbeats and gossip together, over a steady window (no membership change). HTTP framing is not counted.",
  parameters: { sizes: SIZES, windowS: WINDOW_S },
  results: rows,
  targets: at1000
    ? [
        {
          name: "membership bytes per node per second at N=1000",
          target: "at most 1 KB/s",
          measured: `${at1000.meanBytesPerNodeS.toFixed(0)} B/s mean, ${at1000.maxBytesPerNodeS.toFixed(0)} B/s max`,
          met: at1000.meanBytesPerNodeS <= TARGET_BYTES_PER_S,
        },
      ]
    : [],
  chart: {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Membership bytes sent per node per second",
    width: 520,
    height: 300,
    data: {
      values: rows.flatMap((row) => [
        ...Object.entries(row.byKind).map(([kind, traffic]) => ({
          n: String(row.n),
          kind,
          bytes: traffic.bytesPerNodeS,
        })),
      ]),
    },
    mark: "bar",
    encoding: {
      x: { field: "n", type: "ordinal", title: "nodes (N)", sort: null },
      y: { field: "bytes", type: "quantitative", title: "bytes/s per node", stack: "zero" },
      color: { field: "kind", type: "nominal", title: "message kind" },
    },
  },
});
console.log(`wrote ${written.join(", ")}`);
