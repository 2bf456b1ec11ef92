// (f) Coordinators SIGKILLed under a quorum write load (issue 21 §4): a coordinator killed after
// answering a write but before the replica that had not answered got it (its write still queued in
// the killed process, or its hint not yet committed) leaves that replica without the write; only
// anti-entropy brings it there. Three nodes (rf 3), clients writing at quorum through all of them;
// node1, 2 and 3 are SIGKILLed in turn under the load and restarted at once. Once the load stopped
// and every hint is replayed, the replicas' own copies are read: each copy missing the newest
// acknowledged write of its key is a write only anti-entropy can recover; `grapevine repair` then
// runs on every node, and the history checker judges the run (no acknowledged quorum write lost,
// every replica of every key the same). FAULT_HINT_BEFORE_ACK=on|off chooses the nodes'
// --hint-before-ack (default: the node's default); with it on, no acknowledged write may need
// anti-entropy.

import { describe, expect, it } from "vitest";
import { NODE_OPTIONS } from "../../src/node/options.js";
import type { ReplicaState, WriteOp } from "../../src/sim/history/types.js";
import { closeKvPools } from "../support/kv.js";
import { runGrapevine } from "../support/process-cluster.js";
import { HistoryRecorder, startWorkload } from "../support/history/recorder.js";
import { sleep, waitFor } from "../support/wait-for.js";
import {
  expectNoViolations,
  hintsPending,
  useFaultCluster,
  waitFullView,
  type FaultCluster,
} from "./fault-cluster.js";
import { faultSeed } from "./seed.js";

const handle = useFaultCluster("coordinator-kill");

const NODES = 3;
/** The coordinators killed, in turn. */
const VICTIMS = [1, 2, 3] as const;
/** Load between kills, so each kill meets writes in flight on the victim. */
const LOAD_BETWEEN_KILLS_MS = 2_000;
/**
 * Many keys and no reads: each acknowledged write is most likely its key's newest, and no read
 * repairs it.
 */
const KEYS = 1_500;
const WORKERS = 16;
/** Every hint replayed (the periodic replay check runs every 10 s) after the load stops. */
const HINTS_REPLAYED_TIMEOUT_MS = 30_000;
const REPAIR_TIMEOUT_MS = 30_000;

const hintBeforeAck =
  process.env["FAULT_HINT_BEFORE_ACK"] ?? (NODE_OPTIONS.hintBeforeAck.default ? "on" : "off");

/** Replica copies (and keys) that lack their key's newest acknowledged write. */
function missingAckedWrites(
  ops: readonly WriteOp[],
  replicas: readonly ReplicaState[],
): { copies: number; keys: number } {
  const newestAcked = new Map<string, number>();
  for (const op of ops) {
    if (op.outcome !== "ok" || op.timestampUs === undefined) continue;
    newestAcked.set(op.key, Math.max(newestAcked.get(op.key) ?? 0, op.timestampUs));
  }
  let copies = 0;
  let keys = 0;
  for (const state of replicas) {
    const newest = newestAcked.get(state.key);
    if (newest === undefined) continue;
    const lacking = state.copies.filter(
      (copy) => copy.version === null || copy.version.timestampUs < newest,
    ).length;
    copies += lacking;
    if (lacking > 0) keys += 1;
  }
  return { copies, keys };
}

async function killCoordinatorsInTurn(
  cluster: FaultCluster,
  recorder: HistoryRecorder,
): Promise<void> {
  for (const victim of VICTIMS) {
    await sleep(LOAD_BETWEEN_KILLS_MS);
    recorder.note(`SIGKILL node${victim}, restart at once`);
    await cluster.processes.kill(`node${victim}`);
    await cluster.processes.restart(`node${victim}`);
    await waitFullView(cluster);
  }
  await sleep(LOAD_BETWEEN_KILLS_MS);
}

describe(`coordinators SIGKILLed under a quorum write load (--hint-before-ack ${hintBeforeAck})`, () => {
  it("keeps every acknowledged quorum write, and counts the ones only anti-entropy recovers", async () => {
    const startedMs = Date.now();
    const phase = (what: string): void =>
      console.log(`[coordinator-kill] ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${what}`);
    const cluster = await handle.start({
      nodes: NODES,
      args: ["--hint-before-ack", hintBeforeAck, "--anti-entropy-interval-s", "off"],
    });
    phase("cluster up");
    const recorder = new HistoryRecorder(`coordinator-kill-${hintBeforeAck}`);
    const nodes = cluster.nodes();
    const load = startWorkload(recorder, {
      seed: faultSeed("coordinator-kill"),
      keys: KEYS,
      readFraction: 0,
      workers: Array.from({ length: WORKERS }, (_, index) => ({ name: `w${index + 1}`, nodes })),
    });
    try {
      await killCoordinatorsInTurn(cluster, recorder);
    } finally {
      await load.stop();
    }
    phase("load stopped");
    await waitFullView(cluster);
    await waitFor(
      async () =>
        (await Promise.all(cluster.nodes().map(hintsPending))).every((count) => count === 0),
      {
        timeoutMs: HINTS_REPLAYED_TIMEOUT_MS,
        intervalMs: 250,
        what: "no hint pending on any node",
      },
    );
    phase("every hint replayed");
    const writes = recorder.history().ops.filter((op): op is WriteOp => op.kind === "write");
    const before = missingAckedWrites(writes, await recorder.replicaStates(cluster.nodes()));
    phase("replica copies read");
    // Every node at once: each repairs its own ranges against the others, and last-write-wins makes
    // the overlap harmless.
    const repairs = await Promise.all(
      cluster
        .nodes()
        .map((node) =>
          runGrapevine(["repair", "--node", node.url, "--json"], { timeoutMs: REPAIR_TIMEOUT_MS }),
        ),
    );
    for (const repair of repairs) expect(repair.code, repair.stderr).toBe(0);
    phase("repaired");
    const after = missingAckedWrites(writes, await recorder.replicaStates(cluster.nodes()));
    const acked = writes.filter((op) => op.outcome === "ok").length;
    console.log(
      `[coordinator-kill --hint-before-ack ${hintBeforeAck}] ${acked} writes acknowledged, ${writes.length - acked} not; ` +
        `after ${VICTIMS.length} coordinator SIGKILLs and every hint replayed, ${before.copies} replica copies of ${before.keys} keys ` +
        `lacked their newest acknowledged write (only anti-entropy recovers them); after grapevine repair on every node: ${after.copies}`,
    );
    expect(after.copies, "grapevine repair brought every acknowledged write to every replica").toBe(
      0,
    );
    if (hintBeforeAck === "on")
      expect(
        before.copies,
        "with hints before acknowledgements no acknowledged write needs anti-entropy",
      ).toBe(0);
    await recorder.finalReads({ nodes: cluster.nodes() });
    const divergent = await recorder.collectReplicas({ nodes: cluster.nodes() });
    expect(divergent).toEqual([]);
    phase("final reads done");
    expectNoViolations(recorder);
    await closeKvPools();
  });
});
