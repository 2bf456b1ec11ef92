// sim/sim-disk.ts — one simulated machine's disk, which outlives the node processes that use it:
// the LevelDB database the store runs on (a new handle per process life, sim-database.ts) and the
// state files beside it (node.json, ring.json, peers.json), with the crashes and faults of a disk.
//
// Theory of operation. What LevelDB promises after a crash is a prefix of its log: every batch is
// one log record and a torn record is dropped at recovery, so a batch survives whole or not at all
// and the survivors are the earliest ones. The disk keeps that log's meaning in two parts: `image`,
// the content that is durable (on the platters), and `unsynced`, the batches written since, in
// order, which sit in the OS page cache. The page cache itself is one in-memory LevelDB
// (memory-level) holding all of it, which the handles of successive process lives share.
//   - A batch written with sync: true is fsynced with everything before it: all become durable.
//   - The kernel writes dirty pages back on its own: a batch older than `writebackAfterMs` is
//     durable (Linux's dirty_expire), and past `unsyncedBatchesMax` the oldest half is (dirty-page
//     pressure, and what keeps this model's memory bounded).
//   - kill() is a SIGKILL: the page cache survives, so every batch that reached the write call
//     does (and stays losable to a later power loss until written back).
//   - powerLoss() loses the page cache: a suffix of the unsynced batches, its length drawn from
//     the disk's seeded Random, so the same seed loses the same batches.
// State files are written with fsync and rename by their owners (storage/atomic-file.ts), so they
// survive both crashes; a write still in flight when its process dies never lands, and through
// openFiles() a process's later writes fail as its database handle's do.
//
// Faults: setFull(true) refuses every write with ENOSPC and changes nothing (reads still work), as
// a full disk does to LevelDB's log append; setWriteDelayMs/setReadDelayMs make a slow disk, in
// virtual time on the injected Clock. Counters say what each fault did, for the simulator's
// reports.

import { assert } from "../core/assert.js";
import type { Clock } from "../core/clock.js";
import { randomInt, type Random } from "../core/random.js";
import { parseStateFile, type StateFiles } from "../storage/state-files.js";
import type { Database } from "../storage/store-state.js";
import { MemoryLevel } from "memory-level";
import { applyNow, SimDatabase, type DiskMedium, type DiskOperation } from "./sim-database.js";

export const SIM_DISK_DEFAULTS = {
  /** Linux's dirty_expire_centisecs (30 s): older dirty pages are on the disk by then. */
  writebackAfterMs: 30_000,
  /** Unsynced batches kept losable; past it the oldest half is written back. Bounds memory. */
  unsyncedBatchesMax: 4_096,
} as const;

/** Consumed entries of the unsynced queue are dropped in one slice once there are this many. */
const UNSYNCED_COMPACT_MIN = 1_024;

export interface SimDiskOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** Names the disk in state-file messages ("<name>:ring.json"). */
  readonly name?: string;
  readonly writebackAfterMs?: number;
  readonly unsyncedBatchesMax?: number;
}

export interface SimDiskCounters {
  /** Batches that reached the database (puts and deletes count as batches of one). */
  batchesWritten: number;
  /** Of those, written with sync: true. */
  batchesSynced: number;
  /** Batches that a power loss could still take now. */
  batchesUnsynced: number;
  kills: number;
  powerLosses: number;
  /** Acknowledged batches that power losses took. */
  batchesLost: number;
  /** Database and state-file writes refused with ENOSPC. */
  writesRefusedFull: number;
  writesDelayed: number;
  readsDelayed: number;
  /** Operations refused because their process was dead. */
  deadHandleRefusals: number;
  stateFileWrites: number;
}

/** A write on a full disk: `code` is ENOSPC, as Node's own error would say. */
export class DiskFullError extends Error {
  override readonly name = "DiskFullError";
  readonly code = "ENOSPC";
}

/** An operation through the handle of a process that was killed or lost power. */
export class DeadProcessError extends Error {
  override readonly name = "DeadProcessError";
  readonly code = "SIM_PROCESS_DEAD";
}

interface LoggedBatch {
  readonly operations: readonly DiskOperation[];
  readonly atMs: number;
}

function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    clock.schedule(delayMs, resolve);
  });
}

function keyOf(key: Buffer): string {
  return key.toString("latin1");
}

export class SimDisk {
  /** The state files on this disk: in memory, durable across both crashes. */
  readonly files: StateFiles;
  /**
   * Told of every batch that reaches the database, as it does (the run's invariants watch them).
   */
  onBatch: ((operations: readonly DiskOperation[]) => void) | null = null;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #name: string;
  readonly #writebackAfterMs: number;
  readonly #unsyncedBatchesMax: number;
  readonly #medium: DiskMedium;
  /** The durable database content, by key bytes as latin1 (one char per byte). */
  readonly #image = new Map<string, Buffer>();
  /** The image with every unsynced batch applied: what every read sees. */
  #cache: MemoryLevel<Buffer, Buffer>;
  /** Batches written since the image, oldest first, from #unsyncedHead on. */
  #unsynced: LoggedBatch[] = [];
  #unsyncedHead = 0;
  readonly #stateFiles = new Map<string, string>();
  /** The current process life; handles of earlier lives are dead. */
  #life = 0;
  #lockHolder: SimDatabase | null = null;
  #full = false;
  #writeDelayMs = 0;
  #readDelayMs = 0;
  readonly #counts: Omit<SimDiskCounters, "batchesUnsynced"> = {
    batchesWritten: 0,
    batchesSynced: 0,
    kills: 0,
    powerLosses: 0,
    batchesLost: 0,
    writesRefusedFull: 0,
    writesDelayed: 0,
    readsDelayed: 0,
    deadHandleRefusals: 0,
    stateFileWrites: 0,
  };

  constructor(options: SimDiskOptions) {
    this.#clock = options.clock;
    this.#random = options.random;
    this.#name = options.name ?? "sim-disk";
    this.#writebackAfterMs = options.writebackAfterMs ?? SIM_DISK_DEFAULTS.writebackAfterMs;
    this.#unsyncedBatchesMax = options.unsyncedBatchesMax ?? SIM_DISK_DEFAULTS.unsyncedBatchesMax;
    const writebackAfterMs = this.#writebackAfterMs;
    assert(Number.isFinite(writebackAfterMs) && writebackAfterMs >= 0, "writebackAfterMs < 0");
    const unsyncedMax = this.#unsyncedBatchesMax;
    assert(Number.isSafeInteger(unsyncedMax) && unsyncedMax >= 1, "unsyncedBatchesMax < 1");
    this.#cache = this.#cacheOfImage();
    this.#medium = this.#makeMedium();
    this.files = this.#makeStateFiles(null);
  }

  /**
   * The state files as the current process life sees them: like `files`, but every read and write
   * through them fails once that process is dead, so a killed node cannot change them later.
   */
  openFiles(): StateFiles {
    return this.#makeStateFiles(this.#life);
  }

  /** A new handle on the database for the current process life; open it (openLevelStore does). */
  openDatabase(): Database {
    return new SimDatabase(this.#medium, this.#life);
  }

  /** SIGKILL of the process: its handle dies; everything it wrote survives (in the page cache). */
  kill(): void {
    this.#counts.kills += 1;
    this.#endLife();
  }

  /** The machine loses power: the process dies, a seeded suffix of the unsynced batches is lost. */
  powerLoss(): void {
    this.#counts.powerLosses += 1;
    this.#writebackExpired();
    const unsynced = this.#unsynced.length - this.#unsyncedHead;
    const kept = randomInt(this.#random, unsynced + 1);
    this.#writeback(kept);
    this.#counts.batchesLost += unsynced - kept;
    this.#unsynced = [];
    this.#unsyncedHead = 0;
    this.#cache = this.#cacheOfImage();
    this.#endLife();
  }

  /**
   * What the database holds at `key` now, as every read sees it (the unsynced batches over the
   * durable image), at once: for the run's invariants, which must not wait on the disk.
   */
  latest(key: Buffer): Buffer | undefined {
    for (let index = this.#unsynced.length - 1; index >= this.#unsyncedHead; index--) {
      const operations = (this.#unsynced[index] as LoggedBatch).operations;
      for (let at = operations.length - 1; at >= 0; at--) {
        const operation = operations[at] as DiskOperation;
        if (operation.key.equals(key))
          return operation.type === "put" ? operation.value : undefined;
      }
    }
    return this.#image.get(keyOf(key));
  }

  /** While full, every write is refused with ENOSPC and changes nothing; reads still work. */
  setFull(full: boolean): void {
    this.#full = full;
  }

  /** A slow disk: writes from now on are acknowledged (and land) this much virtual time later. */
  setWriteDelayMs(delayMs: number): void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, "a write delay must be ≥ 0 ms");
    this.#writeDelayMs = delayMs;
  }

  /** A slow disk for point reads (get, getMany, has); iterators are not slowed. */
  setReadDelayMs(delayMs: number): void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, "a read delay must be ≥ 0 ms");
    this.#readDelayMs = delayMs;
  }

  counters(): SimDiskCounters {
    return { ...this.#counts, batchesUnsynced: this.#unsynced.length - this.#unsyncedHead };
  }

  #endLife(): void {
    this.#life += 1;
    // The OS drops a dead process's file lock.
    this.#lockHolder = null;
  }

  #record(operations: readonly DiskOperation[], sync: boolean): void {
    this.#counts.batchesWritten += 1;
    this.onBatch?.(operations);
    this.#unsynced.push({ operations, atMs: this.#clock.nowMs() });
    if (sync) {
      this.#counts.batchesSynced += 1;
      this.#writeback(this.#unsynced.length - this.#unsyncedHead);
      return;
    }
    this.#writebackExpired();
    const unsynced = this.#unsynced.length - this.#unsyncedHead;
    if (unsynced > this.#unsyncedBatchesMax) this.#writeback(Math.ceil(unsynced / 2));
  }

  /** The kernel's periodic writeback: batches older than writebackAfterMs are durable. */
  #writebackExpired(): void {
    const expiredAtMs = this.#clock.nowMs() - this.#writebackAfterMs;
    let count = 0;
    for (let index = this.#unsyncedHead; index < this.#unsynced.length; index++) {
      if ((this.#unsynced[index] as LoggedBatch).atMs > expiredAtMs) break;
      count += 1;
    }
    if (count > 0) this.#writeback(count);
  }

  /** Makes the oldest `count` unsynced batches durable, in order. */
  #writeback(count: number): void {
    const end = this.#unsyncedHead + count;
    assert(end <= this.#unsynced.length, "cannot write back more batches than are unsynced");
    for (let index = this.#unsyncedHead; index < end; index++) {
      for (const operation of (this.#unsynced[index] as LoggedBatch).operations) {
        if (operation.type === "put") this.#image.set(keyOf(operation.key), operation.value);
        else this.#image.delete(keyOf(operation.key));
      }
    }
    this.#unsyncedHead = end;
    if (end === this.#unsynced.length) {
      this.#unsynced = [];
      this.#unsyncedHead = 0;
    } else if (end >= UNSYNCED_COMPACT_MIN && end * 2 >= this.#unsynced.length) {
      this.#unsynced = this.#unsynced.slice(end);
      this.#unsyncedHead = 0;
    }
  }

  /** A page cache holding exactly the image: what a machine reads after it lost power. */
  #cacheOfImage(): MemoryLevel<Buffer, Buffer> {
    const encodings = { keyEncoding: "buffer", valueEncoding: "buffer" } as const;
    const cache = new MemoryLevel<Buffer, Buffer>(encodings);
    const operations: DiskOperation[] = [];
    for (const [key, value] of this.#image) {
      operations.push({ type: "put", key: Buffer.from(key, "latin1"), value });
    }
    applyNow(cache, operations);
    return cache;
  }

  #admitWrite(): void {
    if (!this.#full) return;
    this.#counts.writesRefusedFull += 1;
    throw new DiskFullError(`ENOSPC: no space left on device (${this.#name}, simulated)`);
  }

  #deadHandle(): Error {
    this.#counts.deadHandleRefusals += 1;
    return new DeadProcessError(`the process that opened this handle on ${this.#name} is dead`);
  }

  #makeMedium(): DiskMedium {
    return {
      clock: this.#clock,
      alive: (life) => life === this.#life,
      lock: (handle) => {
        if (this.#lockHolder !== null) {
          throw new Error(`IO error: lock ${this.#name}/db/LOCK: already held by process`);
        }
        this.#lockHolder = handle;
      },
      unlock: (handle) => {
        if (this.#lockHolder === handle) this.#lockHolder = null;
      },
      cache: () => this.#cache,
      admitWrite: () => this.#admitWrite(),
      record: (operations, sync) => this.#record(operations, sync),
      writeDelay: () => {
        if (this.#writeDelayMs > 0) this.#counts.writesDelayed += 1;
        return this.#writeDelayMs;
      },
      readDelay: () => {
        if (this.#readDelayMs > 0) this.#counts.readsDelayed += 1;
        return this.#readDelayMs;
      },
      deadHandle: () => this.#deadHandle(),
    };
  }

  /** State files for the process life `owner`, or for whichever life is current (null). */
  #makeStateFiles(owner: number | null): StateFiles {
    const describe = (name: string): string => `${this.#name}:${name}`;
    const lifeOf = (): number => {
      if (owner !== null && owner !== this.#life) throw this.#deadHandle();
      return this.#life;
    };
    return {
      describe,
      read: async (name) => {
        const life = lifeOf();
        const delayMs = this.#medium.readDelay();
        if (delayMs > 0) await sleep(this.#clock, delayMs);
        if (life !== this.#life) throw this.#deadHandle();
        const text = this.#stateFiles.get(name);
        return text === undefined ? undefined : parseStateFile(text, describe(name));
      },
      write: async (name, content) => {
        const life = lifeOf();
        const delayMs = this.#medium.writeDelay();
        if (delayMs > 0) await sleep(this.#clock, delayMs);
        // A process that died before its rename landed left the old file.
        if (life !== this.#life) throw this.#deadHandle();
        this.#admitWrite();
        this.#stateFiles.set(name, content);
        this.#counts.stateFileWrites += 1;
      },
    };
  }
}
