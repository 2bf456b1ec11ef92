// node/build-clocks.ts — the node's two views of time beside the monotonic Clock port: the hybrid
// logical clock that stamps writes, and the clock guard that measures this node's wall clock
// against its peers' and fences it when it is out of range.

import type { Clock } from "../core/clock.js";
import { HybridClock } from "../time/hlc.js";
import type { NodeConfig } from "./config.js";
import type { NodeIdentity } from "./identity.js";
import type { Logger } from "./logger.js";
import { ClockGuard } from "./clock-guard.js";

export interface NodeClocksInput {
  readonly config: NodeConfig;
  readonly identity: NodeIdentity;
  readonly clock: Clock;
  readonly wallUs: () => number;
  readonly log: Logger;
}

export interface NodeClocks {
  readonly hlc: HybridClock;
  readonly clockGuard: ClockGuard;
}

export function buildClocks({ config, identity, clock, wallUs, log }: NodeClocksInput): NodeClocks {
  // The generation is this start's time in ms and grows across restarts (identity.ts), so seeding
  // the clock with it keeps timestamps from going back when the wall clock did across a restart.
  // CockroachDB's max-offset governs both: how far ahead a remote timestamp may be before it is
  // refused, and how far off from its peers this node's clock may be before it stops stamping
  // writes. The seed is capped at the wall clock plus that offset: a node that once ran with its
  // clock far ahead (its generation is from then) would otherwise keep stamping from the future
  // after its clock was fixed, and refuse every write as stamped ahead until the wall clock caught
  // up. Its old records from the future are the operator's to fix (grapevine future-records).
  const maxClockOffsetUs = config.maxClockOffsetMs * 1000;
  const hlcSeedUs = Math.min(identity.generation * 1000, wallUs() + maxClockOffsetUs);
  if (hlcSeedUs < identity.generation * 1000) {
    log.warn(
      {
        generation: identity.generation,
        aheadMs: Math.round(identity.generation - wallUs() / 1000),
      },
      "this node's last start was stamped ahead of its clock by more than --max-clock-offset-ms: its clock went back, or ran ahead then; records it wrote then may be from the future (grapevine future-records list)",
    );
  }
  const hlc = new HybridClock({ initialUs: hlcSeedUs, driftUsMax: maxClockOffsetUs });
  const clockGuard = new ClockGuard(
    { self: identity.id, maxClockOffsetMs: config.maxClockOffsetMs },
    { wallUs, nowMs: () => clock.nowMs(), log: log.child({ component: "clock" }) },
  );
  return { hlc, clockGuard };
}
