// cluster/cluster-view-defaults.ts — the composition's tunables in one place, apart from the
// class, so the node and the limits test can read them without the view's machinery.

/** Tunables of the composition; the protocol engines keep their own. */
export const CLUSTER_VIEW_DEFAULTS = {
  /**
   * Monitors per member (k). Five gives votes from independent links while heartbeats stay cheap.
   */
  monitorsPerMember: 5,
  /** Heartbeats per gossip round: a 500 ms heartbeat at the default 1 s round detects faster. */
  heartbeatsPerGossipRound: 2,
  /**
   * How long a member keeps heartbeating monitors it no longer has: longer than gossip takes to
   * converge.
   */
  previousMonitorGraceMs: 30_000,
  /** Peers an urgent change (a vote, a refutation, a status) is pushed to at once, per hop. */
  rumorFanout: 4,
  /**
   * Peers a clean stop's shutdown is pushed to directly, beyond rumor fanout: all of them in any
   * cluster we run, so each peer shows the node down at once; past it, one rumor hop later.
   */
  shutdownAnnounceTargetsMax: 256,
  /** Load is published at most this often, so `load` does not keep every summary hash moving. */
  loadPublishIntervalMs: 10_000,
  /** ...and only when it moved by at least this fraction. */
  loadChangeRatioMin: 0.05,
  /** Tokens per member accepted from gossip; more is a malformed state, ignored and counted. */
  tokensPerMemberMax: 1024,
  /** Votes one monitor may publish; a monitor has about `monitorsPerMember` subjects. */
  votesPerMemberMax: 256,
} as const;
