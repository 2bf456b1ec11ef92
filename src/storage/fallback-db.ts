// storage/fallback-db.ts — the fallback copies this node holds for down primaries (issue 16 §4,
// sloppy quorum) live in a second hint store over the `f` namespace of the same database.
//
// Theory of operation. A fallback copy IS a hint held on another node than the coordinator: (the
// primary it stands in for, key, encoded record, created time), handed off to that primary when it
// is back and deleted only after it acknowledged. So the hint store (hints.ts) is reused as it is,
// with its own totals, bound and replay, over a view of the database in which its `h` keys are
// stored under `f`: this adapter shifts the namespace byte of every key going in and shifts it
// back on every key coming out. Keeping them apart from this node's own hints is what lets the
// fallback bytes be bounded and reported on their own, across restarts (the store rebuilds its
// totals from one scan of its namespace at open).

import type { HintDatabase } from "./hints.js";
import { NAMESPACE } from "./layout.js";

const SHIFT = NAMESPACE.fallbacks - NAMESPACE.hints;

function shifted(key: Buffer, by: number): Buffer {
  const copy = Buffer.from(key);
  copy[0] = (copy[0] as number) + by;
  return copy;
}

/** `db` seen by a HintStore whose keys are stored in the fallbacks namespace. */
export function fallbackDatabase(db: HintDatabase): HintDatabase {
  return {
    batch: (operations, options) =>
      db.batch(
        operations.map((operation) =>
          operation.type === "put"
            ? { type: "put", key: shifted(operation.key, SHIFT), value: operation.value }
            : { type: "del", key: shifted(operation.key, SHIFT) },
        ),
        options,
      ),
    getMany: (keys) => db.getMany(keys.map((key) => shifted(key, SHIFT))),
    iterator: ({ gte, lt, limit }) => {
      const inner = db.iterator({
        gte: shifted(gte, SHIFT),
        lt: shifted(lt, SHIFT),
        ...(limit === undefined ? {} : { limit }),
      });
      return {
        nextv: async (size) =>
          (await inner.nextv(size)).map(([key, value]): [Buffer, Buffer] => [
            shifted(key, -SHIFT),
            value,
          ]),
        close: () => inner.close(),
      };
    },
  };
}
