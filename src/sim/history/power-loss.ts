// src/sim/history/power-loss.ts — which acknowledged writes the promise lets power losses take.
//
// SPEC §4: a node killed with SIGKILL keeps every write it acknowledged; only with --sync on does a
// write also survive a power loss; and an acknowledged write is kept as long as no more than
// (replication factor − quorum) replicas of its key lose their disk. With --sync off a power loss
// is a loss of disk for the writes in its unsynced tail, so the checker (checker.ts) excuses a
// quorum-acknowledged write w of key k that a read at time t misses only when at least
// rf − quorum + 1 distinct replicas of k lost power at moments p with
//   w.startMs ≤ p        no replica held w before the write started;
//   p < w.endMs + H      every replica that acknowledged w had it in its log by w.endMs, and the
//                        kernel writes a dirty page back within H, the writeback horizon (the
//                        simulated disk's writebackAfterMs; Linux's dirty_expire), after which no
//                        power loss takes it: a later loss keeps a prefix of the log that holds w;
//   p ≤ t                a loss after the read cannot explain what it saw.
// Copies that replicas received later (hints, read repair, anti-entropy) may be lost later than
// that, but w is gone only if the replicas that acknowledged it lost theirs, inside these windows.
//
// Why the count is as strict as the promise lets it be: the promise allows losing w once more than
// rf − quorum replicas lost their disk, and never before. Losing w takes every replica that
// acknowledged it, at least a quorum, and rf − quorum + 1 ≤ quorum (equal for an odd rf, such as
// the simulator's 3), so the excuse never covers a loss the disks could not have caused. Kills are
// never an excuse, and with --sync on (or no durability record) nothing is excused. A key's
// replicas are its replicas at the end of the run (history.replicas), which without ring changes
// are its replicas throughout. Pure: no clock, no IO.

import type { Durability, PowerLoss, ReplicaState, WriteOp } from "./types.js";

export class PowerLossExcuses {
  /** Distinct replicas of a key that must have lost power for one of its writes to be lost. */
  readonly needed: number;
  readonly #losses: readonly PowerLoss[];
  readonly #horizonMs: number;
  readonly #replicasOf: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(
    durability: Durability | undefined,
    replicas: readonly ReplicaState[],
    replicationFactor: number,
  ) {
    const quorum = Math.floor(replicationFactor / 2) + 1;
    this.needed = replicationFactor - quorum + 1;
    this.#losses =
      durability?.sync === "off" ? [...durability.powerLosses].sort((a, b) => a.atMs - b.atMs) : [];
    this.#horizonMs = durability?.writebackHorizonMs ?? Number.POSITIVE_INFINITY;
    this.#replicasOf = new Map(
      replicas.map((state) => [state.key, new Set(state.copies.map((copy) => copy.node))]),
    );
  }

  /** Whether any power loss could have taken an acknowledged write (sync off, some loss). */
  get active(): boolean {
    return this.#losses.length > 0;
  }

  /** The first power loss of each replica of `write`'s key inside its window, up to `untilMs`. */
  lossesFor(write: WriteOp, untilMs: number): PowerLoss[] {
    const replicas = this.#replicasOf.get(write.key);
    if (replicas === undefined) return [];
    const writtenBackMs = write.endMs + this.#horizonMs;
    const firstByNode = new Map<string, PowerLoss>();
    for (const loss of this.#losses) {
      if (loss.atMs < write.startMs || loss.atMs >= writtenBackMs || loss.atMs > untilMs) continue;
      if (replicas.has(loss.node) && !firstByNode.has(loss.node)) firstByNode.set(loss.node, loss);
    }
    return [...firstByNode.values()];
  }

  /** Whether the promise lets `write` be missing from what a read that ended at `untilMs` saw. */
  excuses(write: WriteOp, untilMs: number): boolean {
    return this.#losses.length > 0 && this.lossesFor(write, untilMs).length >= this.needed;
  }

  /** For a violation's message: the power losses that were not enough, or "". */
  describeShortfall(write: WriteOp, untilMs: number): string {
    if (this.#losses.length === 0) return "";
    const losses = this.lossesFor(write, untilMs);
    const shown = losses.map((loss) => `${loss.node} at ${loss.atMs}`).join(", ");
    return ` (power losses of its replicas that could have taken it: ${shown === "" ? "none" : shown}; the promise needs ${this.needed})`;
  }
}
