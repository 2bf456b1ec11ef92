// topology/remove-node.ts — drop a member that is down and will not return (SPEC §1 `grapevine
// removenode ID`), keeping `replication-factor` replicas of every key.
//
// Theory of operation (Cassandra's removenode). Refused for an unknown id, for this node itself,
// for a live member (decommission it instead, or stop it first), and while another ring change is
// in progress. The member cannot speak for itself, so this node publishes the removal in its own
// gossip state ("removing"): every view then treats the member as leaving, so writes to its ranges
// also go to their new replicas. Once every live member sees that, each range that loses its
// replica streams from a remaining replica (the next one if that one fails; topology/stream.ts) to
// the new replica, relayed through this node. Then the removal is marked "removed": every view
// drops the member from the ring and from its status.

import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { rangeMovements } from "../ring/placement.js";
import { awaitAgreement, describeChange, type TopologyContext } from "./ring-change.js";
import type { StreamTask } from "./stream.js";

export function checkRemoveNode(context: TopologyContext, id: NodeId): void {
  const { engine, self } = context;
  if (id === self)
    throw new GrapevineError("bad_request", "a node cannot remove itself; use decommission");
  const member = engine.membership().find((entry) => entry.id === id);
  if (member === undefined || member.status === "left")
    throw new GrapevineError("not_found", `no member ${id} in this cluster`);
  if (engine.isLive(id)) {
    throw new GrapevineError(
      "member_live",
      `${id} is live; stop it first (removenode is for members that will not return) or decommission it`,
    );
  }
  // The member's own change does not count: a joiner that died mid-bootstrap, or a removal of it
  // that failed, must not keep the cluster from removing it.
  const change = engine.ringChanges().find((candidate) => candidate.id !== id);
  if (change !== undefined)
    throw new GrapevineError(
      "ring_change_in_progress",
      `another ring change is in progress: ${describeChange(change)}`,
    );
}

export async function removeNode(
  context: TopologyContext,
  id: NodeId,
): Promise<{ keys: number; bytes: number }> {
  const { engine, log } = context;
  checkRemoveNode(context, id);
  engine.announceRemoval(id, "removing");
  log.info({ member: id }, "removenode: removing");
  await awaitAgreement(
    context,
    id,
    (view) => view === undefined || view.state === "leaving" || view.state === "left",
    "removing",
  );
  const tasks: StreamTask[] = [];
  for (const movement of rangeMovements(
    engine.ring(),
    engine.futureRing(),
    context.replicationFactor,
  )) {
    const sources = movement.sources.filter((source) => source !== id);
    for (const target of movement.targets) {
      // The target itself may hold other ranges but never this one; prefer a source other than it.
      tasks.push({
        range: { start: movement.start, end: movement.end },
        target,
        sources: sources.filter((source) => source !== target),
      });
    }
  }
  log.info(
    { member: id, streams: tasks.length },
    "removenode: streaming the ranges that lost a replica",
  );
  const streamed = await context.streams.run(`removenode ${id}`, tasks);
  engine.announceRemoval(id, "removed");
  await awaitAgreement(context, id, (view) => view === undefined, "removed");
  log.info({ member: id, keys: streamed.keys, bytes: streamed.bytes }, "removenode: removed");
  return streamed;
}
