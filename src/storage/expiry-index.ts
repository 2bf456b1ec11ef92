// storage/expiry-index.ts — the expiry index (issue 17 §3): where housekeeping finds expired
// records without a full scan; its keys and the changes a batch makes to it.
//
// Theory of operation. For every stored record with an expiry (record.ts expiresAtUs) the index
// holds one empty entry `x` ++ expiresAtUs (8 bytes, big-endian) ++ the record's data key
// (layout.ts), so bytewise order is expiry order and "every record that expired before T" is one
// contiguous scan from the namespace's start to `x` ++ T. The entry is written and deleted in the
// same LevelDB batch as the record it names (batch-commit.ts when a write replaces a version,
// purge.ts when a record is deleted), so the two never disagree after a crash. The one exception is
// a stored record that could not be decoded when a write replaced it: its expiry is unknown, so an
// entry it had is left behind; the purge (expiry-purge.ts) finds such an entry pointing at a record
// without that expiry (or at none) and deletes it alone. A database written before TTL has no
// expiring records and so needs no index: it opens as it is.

import { assert } from "../core/assert.js";
import { NAMESPACE, type KeyBounds } from "./layout.js";
import type { BatchOperation } from "./store-state.js";

const EXPIRY_HEADER_BYTES = 1 + 8;

function expiryPrefix(expiresAtUs: number): Buffer {
  assert(
    Number.isSafeInteger(expiresAtUs) && expiresAtUs >= 0,
    () => `not an expiry: ${expiresAtUs}`,
  );
  const bytes = Buffer.allocUnsafe(EXPIRY_HEADER_BYTES);
  bytes[0] = NAMESPACE.expiry;
  bytes.writeBigUInt64BE(BigInt(expiresAtUs), 1);
  return bytes;
}

/** `x` ++ expiresAtUs (8 bytes, big-endian) ++ the data key. */
export function expiryIndexKey(expiresAtUs: number, dataKey: Uint8Array): Buffer {
  assert(dataKey[0] === NAMESPACE.data, "the expiry index names data keys");
  return Buffer.concat([expiryPrefix(expiresAtUs), dataKey]);
}

/** An index entry split back into its parts; only keys read back from our own DB reach it. */
export function decodeExpiryIndexKey(indexKey: Uint8Array): {
  expiresAtUs: number;
  dataKey: Buffer;
} {
  assert(
    indexKey.length > EXPIRY_HEADER_BYTES && indexKey[0] === NAMESPACE.expiry,
    "not an expiry index key",
  );
  const bytes = Buffer.from(indexKey.buffer, indexKey.byteOffset, indexKey.byteLength);
  return {
    expiresAtUs: Number(bytes.readBigUInt64BE(1)),
    dataKey: Buffer.from(bytes.subarray(EXPIRY_HEADER_BYTES)),
  };
}

/** The index entries of every record that expires before cutoffUs. */
export function expiryIndexBefore(cutoffUs: number): KeyBounds {
  return { gte: Buffer.from([NAMESPACE.expiry]), lt: expiryPrefix(Math.max(0, cutoffUs)) };
}

/** No change: the common case (no expiry before or after), without an allocation per write. */
const NO_CHANGES: readonly BatchOperation[] = Object.freeze([]);

/**
 * The index operations of replacing a data key's stored expiry (undefined: none, or no record)
 * with the new record's, for the same batch as the record.
 */
export function expiryIndexChanges(
  dataKey: Buffer,
  storedExpiresAtUs: number | undefined,
  newExpiresAtUs: number | undefined,
): readonly BatchOperation[] {
  if (storedExpiresAtUs === newExpiresAtUs) return NO_CHANGES;
  const operations: BatchOperation[] = [];
  if (storedExpiresAtUs !== undefined)
    operations.push({ type: "del", key: expiryIndexKey(storedExpiresAtUs, dataKey) });
  if (newExpiresAtUs !== undefined)
    operations.push({
      type: "put",
      key: expiryIndexKey(newExpiresAtUs, dataKey),
      value: Buffer.alloc(0),
    });
  return operations;
}
