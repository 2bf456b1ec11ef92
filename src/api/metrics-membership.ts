// api/metrics-membership.ts — the membership core's and the peer transport's series: gossip rounds,
// messages sent, received and refused, and each monitored member's phi and the members by status.

import { Gauge, type Registry } from "prom-client";
import type { ClusterEngine } from "../cluster/engine.js";
import type { PeerClientStats } from "../net/peer-client.js";
import type { PeerRouteStats } from "../net/peer-routes.js";
import { METRICS_PREFIX, observedCounter, observedLabeledCounter } from "./metrics-observed.js";

export interface MembershipSources {
  readonly engine: Pick<ClusterEngine, "stats" | "members">;
  readonly peerClient: { stats(): PeerClientStats };
  readonly peerRoutes: PeerRouteStats;
  readonly nowMs: () => number;
}

export function registerMembership(registry: Registry, sources: MembershipSources): void {
  registerEngineCounters(registry, sources);
  registerPeerTransport(registry, sources);
  registerMemberGauges(registry, sources);
}

function registerEngineCounters(registry: Registry, sources: MembershipSources): void {
  observedCounter(
    registry,
    "gossip_rounds_total",
    "Gossip rounds this node started",
    () => sources.engine.stats().gossipRounds,
  );
  observedCounter(
    registry,
    "membership_messages_sent_total",
    "Gossip and heartbeat messages the engine sent",
    () => sources.engine.stats().messagesSent,
  );
  observedCounter(
    registry,
    "membership_messages_received_total",
    "Gossip and heartbeat messages the engine accepted",
    () => sources.engine.stats().messagesReceived,
  );
  observedCounter(
    registry,
    "membership_messages_refused_total",
    "Messages or member states the engine refused as malformed",
    () => sources.engine.stats().messagesRefused,
  );
}

function registerPeerTransport(registry: Registry, sources: MembershipSources): void {
  observedCounter(
    registry,
    "peer_messages_sent_total",
    "Peer messages handed to the transport",
    () => sources.peerClient.stats().sent,
  );
  observedCounter(
    registry,
    "peer_bytes_sent_total",
    "Bytes of peer message bodies sent",
    () => sources.peerClient.stats().bytesSent,
  );
  observedCounter(
    registry,
    "peer_send_failures_total",
    "Peer messages that failed: refused connection, timeout or non-2xx answer",
    () => sources.peerClient.stats().failed,
  );
  observedCounter(
    registry,
    "peer_send_dropped_total",
    "Peer messages dropped before sending: too many in flight to the peer, oversized, bad address",
    () => sources.peerClient.stats().dropped,
  );
  observedCounter(
    registry,
    "peer_messages_received_total",
    "Valid peer messages received",
    () => sources.peerRoutes.received,
  );
  observedCounter(
    registry,
    "peer_bytes_received_total",
    "Bytes of valid peer message bodies received",
    () => sources.peerRoutes.bytesReceived,
  );
  observedLabeledCounter(
    registry,
    "peer_messages_refused_total",
    "Peer messages refused",
    "reason",
    () => ({
      malformed: sources.peerRoutes.refusedMalformed,
      unauthorized: sources.peerRoutes.refusedUnauthorized,
    }),
  );
}

function registerMemberGauges(registry: Registry, sources: MembershipSources): void {
  new Gauge({
    name: `${METRICS_PREFIX}phi`,
    help: "This node's phi for each member it monitors (no series for members it does not monitor)",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const member of sources.engine.members(sources.nowMs())) {
        if (member.phi !== null && Number.isFinite(member.phi))
          this.set({ peer: member.id }, member.phi);
      }
    },
  });
  new Gauge({
    name: `${METRICS_PREFIX}members`,
    help: "Members this node knows, by ring status and liveness",
    labelNames: ["status", "live"],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, { status: string; live: string; count: number }>();
      for (const member of sources.engine.members(sources.nowMs())) {
        const key = `${member.status}/${member.live}`;
        const entry = counts.get(key) ?? {
          status: member.status,
          live: String(member.live),
          count: 0,
        };
        entry.count++;
        counts.set(key, entry);
      }
      for (const { status, live, count } of counts.values()) this.set({ status, live }, count);
    },
  });
}
