// api/metrics-clock.ts — the clock guard's series (issue 14 §2): offsets to peers, the fence, and
// records from the future by the path that refused or skipped them.

import { Gauge, type Registry } from "prom-client";
import { METRICS_PREFIX, observedCounter, observedLabeledCounter } from "./metrics-observed.js";

/** The clock guard (issue 14 §2): offsets to peers, the fence, records from the future by path. */
export interface ClockSources {
  futureRecords(): Readonly<Record<string, number>>;
  verdict(): {
    readonly inRange: boolean;
    readonly peers: readonly {
      readonly peer: string;
      readonly offsetMs: number;
      readonly errorMs: number;
    }[];
  };
  fencedCount(): number;
}

export function registerClock(registry: Registry, clock: ClockSources): void {
  observedLabeledCounter(
    registry,
    "future_records_refused_total",
    "Records stamped further ahead of this node's clock than --max-clock-offset-ms, refused or skipped, by path",
    "path",
    () => ({ ...clock.futureRecords() }),
  );
  observedCounter(
    registry,
    "clock_fences_total",
    "Times this node's clock went out of range of most peers (writes fenced)",
    () => clock.fencedCount(),
  );
  new Gauge({
    name: `${METRICS_PREFIX}clock_in_range`,
    help: "1 while this node's clock is within --max-clock-offset-ms of most peers it measured, 0 while it refuses writes",
    registers: [registry],
    collect() {
      this.set(clock.verdict().inRange ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}clock_offset_ms`,
    help: "Each measured peer's clock minus this node's (ms), from the best recent heartbeat exchange",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const peer of clock.verdict().peers) this.set({ peer: peer.peer }, peer.offsetMs);
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}clock_offset_error_ms`,
    help: "The error bound (half the round trip, ms) of each peer's clock offset",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const peer of clock.verdict().peers) this.set({ peer: peer.peer }, peer.errorMs);
    },
  });
}
