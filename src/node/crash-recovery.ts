// node/crash-recovery.ts — run.json's keeper (run-record.ts says why): at start it reads the last
// run's record and writes this run's; while the node may have lost acknowledged writes it refuses
// to answer reads as a replica and repairs every range it holds against every other replica, on
// the tick, until one repair reaches every peer; at a clean stop it marks the run clean.

import type { StateFiles } from "../storage/state-files.js";
import type { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { Logger } from "./logger.js";
import {
  decideStart,
  encodeRunRecord,
  parseRunRecord,
  RUN_RECORD_FILE,
  type RunRecord,
  type StartDecision,
} from "./run-record.js";

export const CRASH_RECOVERY_LIMITS = {
  /** After a repair that missed a peer (down, partitioned), the next one starts this much later. */
  retryMs: 5_000,
} as const;

export interface CrashRecoveryDeps {
  readonly files: StateFiles;
  readonly log: Logger;
  readonly bootId: string;
  readonly sync: boolean;
}

/**
 * Unreadable or not a record: nothing says the last run was clean, so assume the worst a restart
 * can mean.
 */
const UNKNOWN_RUN: RunRecord = {
  bootId: "unknown",
  sync: false,
  cleanStop: false,
  recovering: true,
};

/** The last run's record; undefined when there is none (a new data dir, or an older version's). */
async function readPrevious(deps: CrashRecoveryDeps): Promise<RunRecord | undefined> {
  const file = deps.files.describe(RUN_RECORD_FILE);
  let value: unknown;
  try {
    value = await deps.files.read(RUN_RECORD_FILE);
  } catch (error) {
    deps.log.warn({ err: error, file }, "run record unreadable: repairing before serving reads");
    return UNKNOWN_RUN;
  }
  if (value === undefined) return undefined;
  const record = parseRunRecord(value);
  if (record !== undefined) return record;
  deps.log.warn(
    { file },
    "run record is not one this version writes: repairing before serving reads",
  );
  return UNKNOWN_RUN;
}

export class CrashRecovery {
  #record: RunRecord;
  #jobId: string | null = null;
  #nextAttemptMs = 0;
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly deps: CrashRecoveryDeps,
    readonly decision: StartDecision,
  ) {
    this.#record = {
      bootId: deps.bootId,
      sync: deps.sync,
      cleanStop: false,
      recovering: decision.recovering,
    };
  }

  /** Reads the last run's record, decides, and writes this run's before the node serves. */
  static async open(deps: CrashRecoveryDeps): Promise<CrashRecovery> {
    const previous = await readPrevious(deps);
    const recovery = new CrashRecovery(deps, decideStart(previous, deps.bootId));
    if (recovery.decision.recovering) {
      deps.log.warn(
        { reason: recovery.decision.reason },
        "this node may have lost acknowledged writes (an unclean stop with --sync off across a reboot): it answers no replica reads until it has repaired its ranges",
      );
    }
    await recovery.#save();
    return recovery;
  }

  /** True while reads must not count this node as a replica. */
  recovering(): boolean {
    return this.#record.recovering;
  }

  /**
   * On the node's tick: starts a repair when due, and ends recovery when one reached every peer.
   */
  tick(
    nowMs: number,
    antiEntropy: Pick<AntiEntropyService, "startRepair" | "job">,
    ringSettled: boolean,
  ): void {
    if (!this.#record.recovering || !ringSettled) return;
    if (this.#jobId !== null) {
      const job = antiEntropy.job(this.#jobId);
      if (job?.state === "running") return;
      this.#jobId = null;
      if (job?.state === "done" && job.failures.length === 0) {
        this.deps.log.info(
          { keysReceived: job.summary.keysReceived, seconds: job.seconds },
          "recovered: ranges repaired from every peer; answering reads again",
        );
        this.#record = { ...this.#record, recovering: false };
        void this.#save();
        return;
      }
      this.deps.log.warn(
        { failures: job?.failures.length ?? null },
        "recovery repair did not reach every peer; retrying",
      );
      this.#nextAttemptMs = nowMs + CRASH_RECOVERY_LIMITS.retryMs;
      return;
    }
    if (nowMs < this.#nextAttemptMs) return;
    try {
      this.#jobId = antiEntropy.startRepair({ dryRun: false });
    } catch (error) {
      this.deps.log.warn({ err: error }, "recovery repair could not start; retrying");
      this.#nextAttemptMs = nowMs + CRASH_RECOVERY_LIMITS.retryMs;
    }
  }

  /** After the store closed: the next start knows nothing was lost. */
  async markCleanStop(): Promise<void> {
    this.#record = { ...this.#record, cleanStop: true };
    await this.#save();
  }

  #save(): Promise<void> {
    const record = this.#record;
    // One write at a time, in order: the last one written is the newest state.
    this.#writing = this.#writing
      .then(() => this.deps.files.write(RUN_RECORD_FILE, encodeRunRecord(record)))
      .catch((error: unknown) => this.deps.log.warn({ err: error }, "run record not written"));
    return this.#writing;
  }
}
