// node/event-log.ts — the membership events an operator reads in the log: at info a node logs
// membership (who joined, went up or down, restarted, changed status, was removed), not traffic;
// ring changes, which follow every token move, only at debug.

import type { Clock } from "../core/clock.js";
import type { ClusterEngine, ClusterEvent } from "../cluster/engine.js";
import type { Logger } from "./logger.js";

export function logClusterEvent(
  log: Logger,
  engine: Pick<ClusterEngine, "members" | "ring">,
  clock: Clock,
  event: ClusterEvent,
): void {
  switch (event.kind) {
    case "member-joined": {
      const member = engine.members(clock.nowMs()).find((candidate) => candidate.id === event.id);
      log.info(
        { member: event.id, address: member?.address, tokens: member?.tokens },
        "member joined",
      );
      return;
    }
    case "member-up":
      log.info({ member: event.id }, "member up");
      return;
    case "member-down":
      log.info({ member: event.id }, "member down");
      return;
    case "member-restarted":
      log.info({ member: event.id, generation: event.generation }, "member restarted");
      return;
    case "status-changed":
      log.info({ member: event.id, status: event.status }, "member status changed");
      return;
    case "member-removed":
      log.info({ member: event.id }, "member removed");
      return;
    case "tokens-changed":
      log.debug({ members: engine.ring().size }, "ring changed");
      return;
  }
}
