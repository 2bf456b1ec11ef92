// bench/split-availability.ts — write availability at w=one and w=quorum while a 5-node cluster is
// split 2|3, on each side of the split.
//
// Five real `grapevine start` processes, each in its own network namespace on one bridge
// (test/faults/network.ts; needs root), rf 3, default settings. Each round splits the cluster into
// a minority of two nodes and a majority of three with iptables rules between the groups (clients
// reach every node), waits until each side sees the other down, then for WINDOW_MS runs four client
// groups at once — minority w=one, minority w=quorum, majority w=one, majority w=quorum — of 3
// workers each, writing uniformly random keys of 1,000 through the nodes of their side. The figure
// is the fraction of writes acknowledged (204) per group. It is set beside the fraction the ring
// predicts: the share of keys with at least one (w=one) or two (w=quorum) of their three replicas
// on that side (from /cluster/ring). The cluster heals between rounds; each round puts a different
// pair in the minority.
//
// Usage: npm run build && npx tsx bench/split-availability.ts [--rounds 3] [--window-s 15]

import type { ClusterStatusBody, RingBody } from "../src/api/cluster-routes.js";
import { FaultNetwork, removeLeftovers } from "../test/faults/network.js";
import { replicasOfKey } from "../test/support/history/recorder.js";
import { fetchJson } from "../test/support/http.js";
import { closeKvPools, kv } from "../test/support/kv.js";
import { ProcessCluster, type ClusterNode } from "../test/support/process-cluster.js";
import { sleep, waitFor } from "../test/support/wait-for.js";
import { median, writeBenchReport } from "./lib/report.js";
import { intFlag } from "./lib/sim.js";

const ROUNDS = intFlag("rounds", 3);
const WINDOW_MS = intFlag("window-s", 15) * 1_000;
const NODES = 5;
const PORT = 7001;
const KEYS = 1_000;
const WORKERS_PER_GROUP = 3;

if (process.getuid?.() !== 0) {
  process.stderr.write(
    "split-availability needs root: it creates network namespaces and iptables rules\n",
  );
  process.exit(1);
}

interface GroupResult {
  readonly side: "minority" | "majority";
  readonly level: "one" | "quorum";
  readonly attempted: number;
  readonly acknowledged: number;
  readonly fraction: number;
  /** Share of keys with enough replicas on this side for the level. */
  readonly predicted: number;
}

async function view(node: ClusterNode): Promise<ClusterStatusBody> {
  return fetchJson<ClusterStatusBody>(`${node.url}/cluster/status`);
}

removeLeftovers();
const network = await FaultNetwork.create(NODES);
const cluster = new ProcessCluster("split-availability-bench");
const rounds: { round: number; minority: string[]; groups: GroupResult[] }[] = [];
try {
  const spec = (i: number) => ({
    id: `node${i}`,
    port: PORT,
    host: network.address(i),
    commandPrefix: network.commandPrefix(i),
    seeds: i === 1 ? [] : [`${network.address(1)}:${PORT}`],
  });
  await cluster.start(spec(1));
  await cluster.startAll([2, 3, 4, 5].map(spec));
  const nodes = cluster.nodes();
  const fullView = async (): Promise<boolean> =>
    (await Promise.all(nodes.map(view))).every(
      (v) =>
        v.members.length === NODES &&
        v.members.every((member) => member.live && member.state === "normal"),
    );
  await waitFor(fullView, {
    timeoutMs: 45_000,
    intervalMs: 250,
    what: "5 live members on every node",
  });
  // Every node's ring must hold every member's tokens before the prediction is made from one of
  // them.
  const rings = await waitFor(
    async () => {
      const all = await Promise.all(
        nodes.map((node) => fetchJson<RingBody>(`${node.url}/cluster/ring`)),
      );
      const owners = all.map((ring) => new Set(ring.tokens.map((token) => token.owner)).size);
      return owners.every((count) => count === NODES) &&
        all.every((ring) => JSON.stringify(ring.ranges) === JSON.stringify(all[0]?.ranges))
        ? all
        : null;
    },
    { timeoutMs: 45_000, intervalMs: 250, what: "the same ring of 5 owners on every node" },
  );
  const ring = rings[0] as RingBody;
  const keys = Array.from({ length: KEYS }, (_, i) => `avail-${i}`);
  const replicasOf = new Map(keys.map((key) => [key, replicasOfKey(ring, key)]));

  for (let round = 1; round <= ROUNDS; round++) {
    const minority = [((round - 1) % NODES) + 1, (round % NODES) + 1];
    const majority = [1, 2, 3, 4, 5].filter((i) => !minority.includes(i));
    await sleep(3_000);
    await network.partition([minority, majority]);
    const a = cluster.node(`node${minority[0]}`);
    const b = cluster.node(`node${majority[0]}`);
    await waitFor(
      async () =>
        (await view(a)).members.filter((member) => !member.live).length === majority.length &&
        (await view(b)).members.filter((member) => !member.live).length === minority.length,
      { timeoutMs: 30_000, intervalMs: 200, what: "each side to see the other down" },
    );
    const groups = (["minority", "majority"] as const).flatMap((side) =>
      (["one", "quorum"] as const).map((level) => ({ side, level })),
    );
    const counts = groups.map(() => ({ attempted: 0, acknowledged: 0 }));
    const endMs = performance.now() + WINDOW_MS;
    let sequence = 0;
    await Promise.all(
      groups.flatMap((group, index) =>
        Array.from({ length: WORKERS_PER_GROUP }, async () => {
          const side = (group.side === "minority" ? minority : majority).map((i) =>
            cluster.node(`node${i}`),
          );
          const count = counts[index] as { attempted: number; acknowledged: number };
          while (performance.now() < endMs) {
            const node = side[Math.floor(Math.random() * side.length)] as ClusterNode;
            const key = keys[Math.floor(Math.random() * keys.length)] as string;
            count.attempted++;
            try {
              const answer = await kv(node.url, "PUT", key, {
                query: `w=${group.level}`,
                body: `${sequence++}`,
                contentType: "text/plain",
                timeoutMs: 5_000,
              });
              if (answer.status === 204) count.acknowledged++;
            } catch {
              // Counted as not acknowledged.
            }
          }
        }),
      ),
    );
    const sideIds = (side: "minority" | "majority"): Set<string> =>
      new Set((side === "minority" ? minority : majority).map((i) => `node${i}`));
    const results: GroupResult[] = groups.map((group, index) => {
      const count = counts[index] as { attempted: number; acknowledged: number };
      const ids = sideIds(group.side);
      const needed = group.level === "one" ? 1 : 2;
      const predicted =
        keys.filter(
          (key) => (replicasOf.get(key) ?? []).filter((id) => ids.has(id)).length >= needed,
        ).length / KEYS;
      return {
        ...group,
        attempted: count.attempted,
        acknowledged: count.acknowledged,
        fraction: count.acknowledged / Math.max(1, count.attempted),
        predicted,
      };
    });
    rounds.push({ round, minority: minority.map((i) => `node${i}`), groups: results });
    for (const result of results) {
      process.stderr.write(
        `round ${round} (minority node${minority[0]},node${minority[1]}): ${result.side} w=${result.level}: ${(result.fraction * 100).toFixed(1)}% of ${result.attempted} writes acknowledged (ring predicts ${(result.predicted * 100).toFixed(1)}%)\n`,
      );
    }
    await network.heal();
    await waitFor(fullView, {
      timeoutMs: 45_000,
      intervalMs: 250,
      what: "5 live members again after the heal",
    });
  }
} finally {
  await closeKvPools();
  await cluster.cleanup();
  await network.destroy();
}

const summary = (["minority", "majority"] as const).flatMap((side) =>
  (["one", "quorum"] as const).map((level) => {
    const mine = rounds.flatMap((round) =>
      round.groups.filter((group) => group.side === side && group.level === level),
    );
    return {
      side,
      level,
      fraction: median(mine.map((group) => group.fraction)),
      predicted: median(mine.map((group) => group.predicted)),
    };
  }),
);
for (const row of summary) {
  console.log(
    `${row.side} side, w=${row.level}: ${(row.fraction * 100).toFixed(1)}% of writes acknowledged (median of ${rounds.length} rounds; the ring predicts ${(row.predicted * 100).toFixed(1)}%)`,
  );
}
const written = await writeBenchReport({
  name: "split-availability",
  description:
    "5 grapevine processes in network namespaces (rf 3), split 2|3 by iptables rules with clients on both sides; for each side and level, 3 workers write random " +
    "keys of 1,000 for the window, starting once each side sees the other down. Fraction of writes acknowledged, beside the share of keys with enough replicas on that side.",
  parameters: {
    rounds: ROUNDS,
    windowMs: WINDOW_MS,
    nodes: NODES,
    keys: KEYS,
    workersPerGroup: WORKERS_PER_GROUP,
    replicationFactor: 3,
  },
  results: { summary, rounds },
  chart: {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Writes acknowledged during a 2|3 split (rf 3)",
    width: 320,
    height: 240,
    data: {
      values: summary.flatMap((row) => [
        { group: `${row.side} w=${row.level}`, series: "measured", fraction: row.fraction },
        { group: `${row.side} w=${row.level}`, series: "ring predicts", fraction: row.predicted },
      ]),
    },
    mark: { type: "bar" },
    encoding: {
      x: { field: "group", type: "nominal", title: null, sort: null },
      xOffset: { field: "series" },
      y: {
        field: "fraction",
        type: "quantitative",
        title: "fraction of writes acknowledged",
        scale: { domain: [0, 1] },
      },
      color: { field: "series", type: "nominal", title: null },
    },
  },
});
console.log(`wrote ${written.join(", ")}`);
