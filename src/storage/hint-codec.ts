// storage/hint-codec.ts — how a hint is stored in the `h` namespace of layout.ts: its storage key
// and its value, and the key bounds of one target's hints. Bytes in, bytes out; hints.ts does the
// storing.
//
// A hint's storage key is `h` ++ target length (1 byte) ++ target UTF-8 ++ sequence (8 bytes
// big-endian), so bytewise order is (target, sequence): one target's hints are one contiguous scan,
// oldest first. Its value is msgpack of [created time, key, encoded record].

import { Packr } from "msgpackr";
import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { NewHint, StoredHint } from "./hints.js";
import { NAMESPACE, type KeyBounds } from "./layout.js";

/** Node ids are stored behind a one-byte length. */
const TARGET_BYTES_MAX = 255;
const SEQUENCE_BYTES = 8;

const hintPackr = new Packr({ useRecords: false });

function targetPrefix(target: NodeId): Buffer {
  const targetBytes = Buffer.byteLength(target, "utf8");
  assert(
    targetBytes >= 1 && targetBytes <= TARGET_BYTES_MAX,
    () => `bad hint target ${JSON.stringify(target)}`,
  );
  const prefix = Buffer.allocUnsafe(2 + targetBytes);
  prefix[0] = NAMESPACE.hints;
  prefix[1] = targetBytes;
  prefix.write(target, 2, "utf8");
  return prefix;
}

/** `h` ++ target length ++ target ++ sequence (8 bytes, big-endian). */
export function encodeHintKey(target: NodeId, sequence: number): Buffer {
  assert(
    Number.isSafeInteger(sequence) && sequence >= 0,
    "a hint sequence is a non-negative integer",
  );
  const prefix = targetPrefix(target);
  const key = Buffer.allocUnsafe(prefix.length + SEQUENCE_BYTES);
  prefix.copy(key, 0);
  key.writeBigUInt64BE(BigInt(sequence), prefix.length);
  return key;
}

export function decodeHintKey(storageKey: Uint8Array): { target: NodeId; sequence: number } {
  const bytes = Buffer.from(storageKey.buffer, storageKey.byteOffset, storageKey.byteLength);
  assert(bytes.length > 2 + SEQUENCE_BYTES && bytes[0] === NAMESPACE.hints, "not a hint key");
  const targetBytes = bytes[1] as number;
  assert(bytes.length === 2 + targetBytes + SEQUENCE_BYTES, "a hint key of the wrong length");
  return {
    target: bytes.toString("utf8", 2, 2 + targetBytes),
    sequence: Number(bytes.readBigUInt64BE(2 + targetBytes)),
  };
}

/** The key bounds of `target`'s hints: one contiguous scan. */
export function targetBounds(target: NodeId): KeyBounds {
  const gte = targetPrefix(target);
  // Every key of the target is the prefix plus exactly 8 sequence bytes, so all sort below the
  // prefix plus 9 bytes of 0xff; the length byte keeps another target from sharing the prefix.
  return { gte, lt: Buffer.concat([gte, Buffer.alloc(SEQUENCE_BYTES + 1, 0xff)]) };
}

export function encodeHintValue(hint: NewHint): Buffer {
  return hintPackr.pack([hint.createdMs, hint.key, hint.encodedRecord]);
}

/**
 * A stored hint from its storage key and value (the simulator's hint watch reads them off the disk
 * too).
 */
export function decodeHint(storageKey: Buffer, value: Buffer): StoredHint {
  const { target, sequence } = decodeHintKey(storageKey);
  const decoded = hintPackr.unpack(value) as unknown;
  assert(
    Array.isArray(decoded) &&
      typeof decoded[0] === "number" &&
      typeof decoded[1] === "string" &&
      decoded[2] instanceof Uint8Array,
    "an unreadable hint",
  );
  return {
    target,
    sequence,
    createdMs: decoded[0],
    key: decoded[1],
    encodedRecord: decoded[2],
    bytes: storageKey.length + value.length,
  };
}
