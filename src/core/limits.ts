// core/limits.ts — the limits that several modules must agree on, in one place (ARCHITECTURE §6.3).
//
// A limit that only one module enforces lives beside that module (STORE_DEFAULTS, GOSSIP_LIMITS,
// …). The ones here are read by more than one layer: what the config accepts must be what a record
// may hold, what a peer message may carry, and what the CLI expects back. Before, each was its own
// literal (64 MiB twice; node ids 128 vs 256; a bare `+ 4096` three times), so changing one
// silently broke the others. The relations between them are asserted when this module loads: a
// build whose limits contradict each other fails at its first import, not on the first large value.

import { assert } from "./assert.js";

/**
 * The largest value a node may be configured to accept (--max-value-bytes' upper bound) and so the
 * largest value a record may carry: 64 MiB. A KV store, not a blob store; past this a value belongs
 * in an object store with its key here.
 */
export const VALUE_BYTES_MAX: number = 64 * 1024 * 1024;

/**
 * A node id's bytes at most: what --id accepts, what a record names as its writer, what the admin
 * routes and the CLI accept as a member id. Ids are short printable names; 128 bytes fits any
 * hostname-derived id (deriveNodeId cuts to fit).
 */
export const NODE_ID_BYTES_MAX: number = 128;

/**
 * The id length a peer message (gossip, heartbeats, replica, repair and stream requests) or a
 * stored peers file may carry before it is refused as malformed. Deliberately looser than
 * NODE_ID_BYTES_MAX: a message bound only has to refuse garbage, and must never refuse an id a node
 * may have.
 */
export const PEER_NODE_ID_LENGTH_MAX: number = 256;

/** `host:port` in a peer message (gossip and heartbeats); longer is malformed, not an address. */
export const PEER_ADDRESS_LENGTH_MAX: number = 256;

/**
 * Replicas per key at most (--replication-factor's upper bound, and so the largest explicit
 * consistency level, `r=32`). Past this, a write waits on more replicas than any quorum needs.
 */
export const REPLICATION_FACTOR_MAX: number = 32;

/** Tokens per node at most (--vnodes' upper bound): Cassandra's old num_tokens ceiling, 256. */
export const VNODES_MAX: number = 256;

/**
 * Bytes an encoded record may take beyond its value: the format number, timestamp, writer (≤
 * NODE_ID_BYTES_MAX), content type (≤ CONTENT_TYPE_BYTES_MAX), tombstone flag and msgpack headers,
 * with room to spare. Peer protocols bound a record's bytes by value + this.
 */
export const RECORD_FRAMING_BYTES_MAX: number = 4096;

/** A stored content type's bytes: room for any real media type with parameters. */
export const CONTENT_TYPE_BYTES_MAX: number = 256;

/** The largest encoded record any peer message may carry: the largest value plus its framing. */
export const RECORD_BYTES_MAX: number = VALUE_BYTES_MAX + RECORD_FRAMING_BYTES_MAX;

/**
 * The fixed fields of an encoded record (format, timestamp, tombstone, msgpack headers),
 * generously.
 */
const RECORD_FIXED_FIELDS_BYTES_MAX: number = 64;

assert(
  PEER_NODE_ID_LENGTH_MAX >= NODE_ID_BYTES_MAX,
  "a peer message must carry any id a node may have (PEER_NODE_ID_LENGTH_MAX >= NODE_ID_BYTES_MAX)",
);
assert(
  RECORD_FRAMING_BYTES_MAX >=
    NODE_ID_BYTES_MAX + CONTENT_TYPE_BYTES_MAX + RECORD_FIXED_FIELDS_BYTES_MAX,
  "a record's framing must fit its writer, content type and fixed fields",
);
assert(RECORD_BYTES_MAX > VALUE_BYTES_MAX, "an encoded record is larger than its value");
assert(
  Number.isSafeInteger(RECORD_BYTES_MAX) && REPLICATION_FACTOR_MAX >= 1 && VNODES_MAX >= 1,
  "limits are positive safe integers",
);
