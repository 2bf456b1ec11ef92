import { describe, expect, it } from "vitest";
import {
  CONTENT_TYPE_BYTES_MAX,
  NODE_ID_BYTES_MAX,
  PEER_ADDRESS_LENGTH_MAX,
  PEER_NODE_ID_LENGTH_MAX,
  RECORD_BYTES_MAX,
  RECORD_FRAMING_BYTES_MAX,
  REPLICATION_FACTOR_MAX,
  VALUE_BYTES_MAX,
  VNODES_MAX,
} from "../../../src/core/limits.js";
import { CONSISTENCY_LIMITS } from "../../../src/replication/consistency.js";
import { GOSSIP_LIMITS } from "../../../src/gossip/messages.js";
import { KNOWN_PEERS_LIMITS } from "../../../src/topology/known-peers.js";
import { encodeRecord, RECORD_LIMITS } from "../../../src/storage/record.js";
import { REPLICA_REQUEST_BYTES_MAX } from "../../../src/net/replica-protocol.js";
import { STREAM_PAGE_BYTES_MAX } from "../../../src/net/stream-protocol.js";
import { REPAIR_REQUEST_BYTES_MAX } from "../../../src/net/repair-protocol.js";
import { TOKENS_PER_ALLOCATION_MAX } from "../../../src/ring/random-tokens.js";
import { CLUSTER_VIEW_DEFAULTS } from "../../../src/cluster/cluster-view.js";
import { NODE_OPTIONS } from "../../../src/node/options.js";

describe("cross-module limits (core/limits.ts)", () => {
  it("lets a peer message carry any id a node may have", () => {
    expect(PEER_NODE_ID_LENGTH_MAX).toBeGreaterThanOrEqual(NODE_ID_BYTES_MAX);
    expect(GOSSIP_LIMITS.nodeIdLengthMax).toBe(PEER_NODE_ID_LENGTH_MAX);
    expect(GOSSIP_LIMITS.addressLengthMax).toBe(PEER_ADDRESS_LENGTH_MAX);
    expect(KNOWN_PEERS_LIMITS.idBytesMax).toBe(PEER_NODE_ID_LENGTH_MAX);
  });

  it("lets a record hold the largest value the config accepts, written by any node id", () => {
    expect(RECORD_LIMITS.valueBytesMax).toBe(VALUE_BYTES_MAX);
    expect(RECORD_LIMITS.writerBytesMax).toBe(NODE_ID_BYTES_MAX);
    expect(RECORD_LIMITS.contentTypeBytesMax).toBe(CONTENT_TYPE_BYTES_MAX);
  });

  it("bounds an encoded record by its value plus the framing, even with the longest writer and content type", () => {
    const value = new Uint8Array(1024);
    const encoded = encodeRecord({
      timestampUs: Number.MAX_SAFE_INTEGER,
      writer: "w".repeat(NODE_ID_BYTES_MAX),
      contentType: "c".repeat(CONTENT_TYPE_BYTES_MAX),
      value,
      tombstone: false,
    });
    expect(encoded.length - value.length).toBeLessThanOrEqual(RECORD_FRAMING_BYTES_MAX);
    expect(RECORD_BYTES_MAX).toBe(VALUE_BYTES_MAX + RECORD_FRAMING_BYTES_MAX);
  });

  it("lets every peer body carry the largest record", () => {
    for (const bodyMax of [
      REPLICA_REQUEST_BYTES_MAX,
      STREAM_PAGE_BYTES_MAX,
      REPAIR_REQUEST_BYTES_MAX,
    ]) {
      expect(bodyMax).toBeGreaterThanOrEqual(RECORD_BYTES_MAX);
    }
  });

  it("keeps the config's bounds within what the other layers accept", () => {
    expect(CONSISTENCY_LIMITS.replicasMax).toBe(REPLICATION_FACTOR_MAX);
    expect(NODE_OPTIONS.replicationFactor.kind.max).toBe(REPLICATION_FACTOR_MAX);
    expect(NODE_OPTIONS.vnodes.kind.max).toBe(VNODES_MAX);
    expect(NODE_OPTIONS.maxValueBytes.kind.max).toBe(VALUE_BYTES_MAX);
    expect(TOKENS_PER_ALLOCATION_MAX).toBeGreaterThanOrEqual(VNODES_MAX);
    expect(CLUSTER_VIEW_DEFAULTS.tokensPerMemberMax).toBeGreaterThanOrEqual(VNODES_MAX);
  });
});
