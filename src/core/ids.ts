// Names every layer shares. They live here, at the bottom, so that lower layers never import
// upward.

/** A member's name, unique in the cluster and stable across restarts (SPEC §1 `--id`). */
export type NodeId = string;

/** A network address as `host:port` (SPEC §1 `--listen`, `--advertise`, `--seeds`). */
export type Address = string;

/** Where a member stands in the ring's life cycle (SPEC §3). */
export type MemberStatus = "joining" | "normal" | "leaving" | "left";

export const MEMBER_STATUSES: readonly MemberStatus[] = ["joining", "normal", "leaving", "left"];
