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
//
// A member that restarts during its removal (its process came back after all: a new generation)
// is no longer covered by the removal (cluster/removal.ts), so every view counts it normal again
// and its ranges lose no replica. The removal then fails (`member_live`) rather than go on: it
// would find nothing to stream and then mark the member removed at its new generation, dropping a
// live replica from the ring with none of its ranges streamed to their new replicas (simulation
// seed 3597543889). It looks before the streams and again, in the same tick as the announcement,
// before marking the member removed.

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
  const generation = generationOf(context, id);
  engine.announceRemoval(id, "removing");
  log.info({ member: id }, "removenode: removing");
  await awaitAgreement(
    context,
    id,
    (view) => view === undefined || view.state === "leaving" || view.state === "left",
    "removing",
  );
  checkStillGone(context, id, generation);
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
  checkStillGone(context, id, generation);
  engine.announceRemoval(id, "removed");
  await awaitAgreement(context, id, (view) => view === undefined, "removed");
  log.info({ member: id, keys: streamed.keys, bytes: streamed.bytes }, "removenode: removed");
  return streamed;
}

/** The generation of the member this node is about to remove (checkRemoveNode found it). */
function generationOf(context: TopologyContext, id: NodeId): number {
  const member = context.engine.membership().find((entry) => entry.id === id);
  if (member === undefined)
    throw new GrapevineError("not_found", `no member ${id} in this cluster`);
  return member.generation;
}

/**
 * Throws `member_live` when the member being removed restarted (a generation other than the one
 * the removal began with): it is a member again, and the removal must not drop it from the ring.
 */
function checkStillGone(context: TopologyContext, id: NodeId, generation: number): void {
  const member = context.engine.membership().find((entry) => entry.id === id);
  if (member === undefined || member.generation === generation) return;
  throw new GrapevineError(
    "member_live",
    `${id} restarted during its removal (generation ${generation}, now ${member.generation}); ` +
      "the removal is abandoned and it stays a member",
  );
}
