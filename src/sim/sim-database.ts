// sim/sim-database.ts — one process life's handle on a simulated disk (sim-disk.ts): an
// abstract-level database over the disk's page cache (an in-memory LevelDB, memory-level) whose
// writes the disk logs so that it can decide, at a crash, which of them survive.
//
// Why a subclass of MemoryLevel: the store must run its real code (write lane, batch commit,
// scans, hints) on it, so the handle has to be a complete abstract-level database, iterators and
// chained batches included. Overriding the private `_put/_del/_batch/_clear` hooks that
// abstract-level calls after encoding catches every write in one place, and the
// `_get…/_iterator…` hooks every read. Each hook runs memory-level's own on the page cache,
// which the disk keeps across kills, so a restart after a kill costs nothing (no copy).
//
// A handle dies when its process does (the disk's kill or power loss): from then on every operation
// through it, open iterators included, fails, so a dead node cannot change the disk it left.
// Writes on a slow disk are acknowledged after the disk's delay, in call order (LevelDB's writers
// queue), and change the data only when acknowledged.

import { MemoryLevel } from "memory-level";
import type { Clock } from "../core/clock.js";

export type DiskOperation =
  { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

/** What a handle needs of its disk; sim-disk.ts implements it. */
export interface DiskMedium {
  readonly clock: Clock;
  /** False once the process life `life` ended (kill or power loss). */
  alive(life: number): boolean;
  /** LevelDB's LOCK file: one open handle at a time. Throws when another holds it. */
  lock(handle: SimDatabase): void;
  unlock(handle: SimDatabase): void;
  /** The page cache: everything written so far, shared by the handles of successive lives. */
  cache(): MemoryLevel<Buffer, Buffer>;
  /** Throws (and counts) when a write may not happen now: the disk is full. */
  admitWrite(): void;
  /** Records a batch that reached the database. */
  record(operations: readonly DiskOperation[], sync: boolean): void;
  /** The delay of a write starting now, ms (counted by the disk when not 0). */
  writeDelay(): number;
  /** The delay of a read starting now, ms (counted by the disk when not 0). */
  readDelay(): number;
  /** Counts a refusal of a dead handle and returns the error to throw. */
  deadHandle(): Error;
}

interface WriteOptions {
  readonly sync?: boolean;
}

/** The private iterator hooks abstract-level calls; memory-level's iterators implement them. */
interface IteratorHooks {
  _next(): Promise<unknown>;
  _nextv(size: number, options: object): Promise<unknown[]>;
  _all(options: object): Promise<unknown[]>;
}

type Cache = MemoryLevel<Buffer, Buffer>;

/** memory-level's private hooks, which its typings do not declare. */
interface MemoryLevelHooks {
  _batch(this: Cache, operations: readonly DiskOperation[], options: object): Promise<void>;
  _get(this: Cache, key: Buffer, options: object): Promise<Buffer | undefined>;
  _getSync(this: Cache, key: Buffer, options: object): Buffer | undefined;
  _getMany(this: Cache, keys: Buffer[], options: object): Promise<(Buffer | undefined)[]>;
  _has(this: Cache, key: Buffer, options: object): Promise<boolean>;
  _hasMany(this: Cache, keys: Buffer[], options: object): Promise<boolean[]>;
  _iterator(this: Cache, options: object): IteratorHooks;
  _keys(this: Cache, options: object): IteratorHooks;
  _values(this: Cache, options: object): IteratorHooks;
  _snapshot(this: Cache, options: object): unknown;
}

const memory = MemoryLevel.prototype as unknown as MemoryLevelHooks;

/** Applies a batch to a memory-level database now: its _batch changes the tree before any await. */
export function applyNow(cache: Cache, operations: readonly DiskOperation[]): void {
  void memory._batch.call(cache, operations, {});
}

const RANGE_OPTIONS = ["gt", "gte", "lt", "lte", "limit", "reverse"] as const;

function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    clock.schedule(delayMs, resolve);
  });
}

/**
 * A MemoryLevel for its manifest (seek, snapshots, getSync) and encodings; its own tree stays
 * empty, every hook works on the disk's cache.
 */
export class SimDatabase extends MemoryLevel<Buffer, Buffer> {
  readonly #medium: DiskMedium;
  readonly #life: number;
  /** Delayed writes not yet applied; while there are any, later writes queue behind them. */
  #writesWaiting = 0;
  #writeTail: Promise<void> = Promise.resolve();
  /** When the last queued write is acknowledged: no write overtakes an earlier one. */
  #lastWriteDueMs = 0;

  constructor(medium: DiskMedium, life: number) {
    super({ keyEncoding: "buffer", valueEncoding: "buffer" });
    this.#medium = medium;
    this.#life = life;
  }

  /** False once the process that opened this handle was killed or lost power. */
  get alive(): boolean {
    return this.#medium.alive(this.#life);
  }

  _open(): Promise<void> {
    this.#checkAlive();
    this.#medium.lock(this);
    return Promise.resolve();
  }

  _close(): Promise<void> {
    this.#medium.unlock(this);
    return Promise.resolve();
  }

  _put(key: Buffer, value: Buffer, options: WriteOptions): Promise<void> {
    return this.#write([{ type: "put", key, value }], options.sync === true);
  }

  _del(key: Buffer, options: WriteOptions): Promise<void> {
    return this.#write([{ type: "del", key }], options.sync === true);
  }

  _batch(operations: readonly DiskOperation[], options: WriteOptions): Promise<void> {
    return this.#write(operations, options.sync === true);
  }

  /** One batch of deletes (classic-level deletes in several; nothing may rely on either). */
  async _clear(options: Record<string, unknown>): Promise<void> {
    this.#checkAlive();
    const range: Record<string, unknown> = {};
    for (const name of RANGE_OPTIONS) if (options[name] !== undefined) range[name] = options[name];
    const keys = await this.keys(range).all();
    if (keys.length > 0)
      await this.#write(
        keys.map((key) => ({ type: "del", key })),
        false,
      );
  }

  async _get(key: Buffer, options: object): Promise<Buffer | undefined> {
    await this.#beforeRead();
    return memory._get.call(this.#medium.cache(), key, options);
  }

  _getSync(key: Buffer, options: object): Buffer | undefined {
    this.#checkAlive();
    return memory._getSync.call(this.#medium.cache(), key, options);
  }

  async _getMany(keys: Buffer[], options: object): Promise<(Buffer | undefined)[]> {
    await this.#beforeRead();
    return memory._getMany.call(this.#medium.cache(), keys, options);
  }

  async _has(key: Buffer, options: object): Promise<boolean> {
    await this.#beforeRead();
    return memory._has.call(this.#medium.cache(), key, options);
  }

  async _hasMany(keys: Buffer[], options: object): Promise<boolean[]> {
    await this.#beforeRead();
    return memory._hasMany.call(this.#medium.cache(), keys, options);
  }

  _iterator(options: object): IteratorHooks {
    this.#checkAlive();
    return this.#guard(memory._iterator.call(this.#medium.cache(), options));
  }

  _keys(options: object): IteratorHooks {
    this.#checkAlive();
    return this.#guard(memory._keys.call(this.#medium.cache(), options));
  }

  _values(options: object): IteratorHooks {
    this.#checkAlive();
    return this.#guard(memory._values.call(this.#medium.cache(), options));
  }

  _snapshot(options: object): unknown {
    this.#checkAlive();
    return memory._snapshot.call(this.#medium.cache(), options);
  }

  async #write(operations: readonly DiskOperation[], sync: boolean): Promise<void> {
    this.#checkAlive();
    const delayMs = this.#medium.writeDelay();
    if (delayMs === 0 && this.#writesWaiting === 0) {
      this.#apply(operations, sync);
      return;
    }
    const clock = this.#medium.clock;
    const dueMs = Math.max(clock.nowMs() + delayMs, this.#lastWriteDueMs);
    this.#lastWriteDueMs = dueMs;
    this.#writesWaiting += 1;
    // Applied inside the chain, so writes land in call order whatever their delays.
    const turn = this.#writeTail.then(async () => {
      try {
        // Due already when an earlier write landed at the same time: no timer to wait for.
        const waitMs = dueMs - clock.nowMs();
        if (waitMs > 0) await sleep(clock, waitMs);
        this.#apply(operations, sync);
      } finally {
        this.#writesWaiting -= 1;
      }
    });
    this.#writeTail = turn.catch(() => undefined);
    await turn;
  }

  /** The write reaches the database: checked, applied to the tree (synchronously) and logged. */
  #apply(operations: readonly DiskOperation[], sync: boolean): void {
    this.#checkAlive();
    this.#medium.admitWrite();
    applyNow(this.#medium.cache(), operations);
    this.#medium.record(operations, sync);
  }

  async #beforeRead(): Promise<void> {
    this.#checkAlive();
    const delayMs = this.#medium.readDelay();
    if (delayMs > 0) {
      await sleep(this.#medium.clock, delayMs);
      this.#checkAlive();
    }
  }

  #checkAlive(): void {
    if (!this.#medium.alive(this.#life)) throw this.#medium.deadHandle();
  }

  /**
   * Makes an open iterator fail once the handle is dead, as reads from a dead process would.
   * (The iterator belongs to the cache, so closing the handle does not close it; the store closes
   * its own.)
   */
  #guard(iterator: IteratorHooks): IteratorHooks {
    const next = iterator._next.bind(iterator);
    const nextv = iterator._nextv.bind(iterator);
    const all = iterator._all.bind(iterator);
    iterator._next = () => {
      this.#checkAlive();
      return next();
    };
    iterator._nextv = (size, options) => {
      this.#checkAlive();
      return nextv(size, options);
    };
    iterator._all = (options) => {
      this.#checkAlive();
      return all(options);
    };
    return iterator;
  }
}
