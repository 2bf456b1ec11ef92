// topology/decommission.ts — this node leaves the ring for good (SPEC §1 `grapevine decommission`).
//
// Theory of operation (Cassandra's decommission). Refused while another ring change is in progress
// (one at a time), when this node is not normal, or when leaving would leave fewer members than the
// replication factor (keys could no longer keep `replication-factor` replicas). Otherwise the node
// turns leaving and waits until every live member sees it so: from then on each coordinator also
// writes the ranges it is leaving to their new replicas (pending replicas), while it still serves
// them as a current replica. Each range then streams from this node (another current replica if
// this one fails to read) to the node that becomes its new replica. When every stream is done the
// node turns left (persisted, so it does not come back) and the shell stops it with exit code 0;
// the other nodes drop it from the ring as soon as they see `left`.

import { GrapevineError } from "../core/errors.js";
import { rangeMovements } from "../ring/placement.js";
import { awaitAgreement, describeChange, type TopologyContext } from "./ring-change.js";
import type { StreamTask } from "./stream.js";

/** Throws the refusal a decommission gets now, if any. */
export function checkDecommission(context: TopologyContext): void {
  const { engine, self } = context;
  const change = engine.ringChanges()[0];
  if (change !== undefined)
    throw new GrapevineError(
      "ring_change_in_progress",
      `another ring change is in progress: ${describeChange(change)}`,
    );
  const me = engine.membership().find((member) => member.id === self);
  if (me?.status !== "normal")
    throw new GrapevineError("bad_request", `this node is ${me?.status ?? "unknown"}, not normal`);
  const members = engine.ring().nodes().length;
  if (members - 1 < context.replicationFactor) {
    throw new GrapevineError(
      "too_few_members",
      `leaving would leave ${members - 1} members for replication factor ${context.replicationFactor}`,
    );
  }
}

export async function decommission(
  context: TopologyContext,
): Promise<{ keys: number; bytes: number }> {
  const { engine, self, log } = context;
  checkDecommission(context);
  engine.setStatus("leaving");
  log.info("decommission: leaving");
  await awaitAgreement(context, self, (view) => view?.state === "leaving", "leaving");
  const tasks: StreamTask[] = [];
  for (const movement of rangeMovements(
    engine.ring(),
    engine.futureRing(),
    context.replicationFactor,
  )) {
    const others = movement.sources.filter((source) => source !== self);
    for (const target of movement.targets) {
      // This node first: it holds every range it is leaving; the others if it cannot read.
      tasks.push({
        range: { start: movement.start, end: movement.end },
        target,
        sources: [self, ...others],
      });
    }
  }
  log.info({ streams: tasks.length }, "decommission: streaming ranges to their new replicas");
  const streamed = await context.streams.run(`decommission ${self}`, tasks);
  await context.persist({ status: "left", tokens: [] });
  engine.setStatus("left");
  await awaitAgreement(
    context,
    self,
    (view) => view === undefined || view.state === "left",
    "left",
  );
  log.info({ keys: streamed.keys, bytes: streamed.bytes }, "decommission: left the ring");
  return streamed;
}
