// replication/round-host.ts — what a write or read round needs from the coordinator that started
// it: the ports, its deadline, and the counters it reports into. An interface so the rounds do not
// import the class that creates them.

import type { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import type { CoordinatorDeps } from "./coordinator-types.js";

/** Where one replica stands in a round. */
/** A replica's part in a round. ClockRefused: it refused the record's stamp as from the future. */
export const ReplicaState = {
  Pending: 0,
  Acknowledged: 1,
  Failed: 2,
  Down: 3,
  TimedOut: 4,
  ClockRefused: 5,
} as const;
export type ReplicaState = (typeof ReplicaState)[keyof typeof ReplicaState];

export interface RoundHost {
  readonly self: NodeId;
  readonly deps: CoordinatorDeps;
  /** Arms the round's one deadline timer; returns its cancel. */
  schedule(round: { expire(): void }): () => void;
  countReplicaFailure(replica: NodeId): void;
  countReplicaTimeout(replica: NodeId): void;
  timedOut(required: number, acknowledged: number, failed: number): GrapevineError;
  clockRefused(message: string, details: Readonly<Record<string, number>>): GrapevineError;
  /** The round settled: one fewer request in flight. */
  finished(): void;
}
