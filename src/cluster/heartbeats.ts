// cluster/heartbeats.ts — whom this member heartbeats each tick. Its current monitors, and for a
// short grace after its monitor set changes its previous monitors too, so a monitor that has not
// yet learned of the change does not convict it (liveness.ts).

import type { NodeId } from "../core/ids.js";
import type { Outbound } from "./engine.js";
import type { MemberRecord } from "./member-record.js";
import type { HeartbeatMessage } from "./peer-messages.js";

/** Who this member is, as each heartbeat says it. */
export interface HeartbeatSender {
  readonly id: NodeId;
  readonly generation: number;
  readonly incarnation: number;
}

export class Heartbeats {
  private heartbeatSequence = 0;
  private currentMonitors: NodeId[] = [];
  // monitor → heartbeat it until (ms)
  private readonly previousMonitors = new Map<NodeId, number>();

  constructor(private readonly previousMonitorGraceMs: number) {}

  /** The sequence of the last heartbeat sent (0 before the first). */
  get sequence(): number {
    return this.heartbeatSequence;
  }

  /** This member's monitors are now `monitors`: the ones it lost are heartbeaten for the grace. */
  setMonitors(monitors: NodeId[], nowMs: number): void {
    for (const old of this.currentMonitors) {
      if (!monitors.includes(old))
        this.previousMonitors.set(old, nowMs + this.previousMonitorGraceMs);
    }
    this.currentMonitors = monitors;
  }

  /** One tick's heartbeats: to each current or still-graced previous monitor that has not left. */
  next(
    nowMs: number,
    records: ReadonlyMap<NodeId, MemberRecord>,
    from: HeartbeatSender,
  ): Outbound[] {
    this.heartbeatSequence += 1;
    for (const [monitor, untilMs] of this.previousMonitors) {
      if (untilMs <= nowMs || this.currentMonitors.includes(monitor))
        this.previousMonitors.delete(monitor);
    }
    const targets = new Set<NodeId>([...this.currentMonitors, ...this.previousMonitors.keys()]);
    const out: Outbound[] = [];
    for (const monitor of targets) {
      const member = records.get(monitor);
      if (member === undefined || member.status === "left") continue;
      const message: HeartbeatMessage = {
        kind: "heartbeat",
        from: from.id,
        generation: from.generation,
        incarnation: from.incarnation,
        sequence: this.heartbeatSequence,
      };
      out.push({ to: monitor, address: member.address, message });
    }
    return out;
  }
}
