// antientropy/repair-transport.ts — how a repair session reaches the other replica: the questions
// of each step (roots, nodes, buckets, entries, exchange), the port that carries them, and the
// bounds every message keeps. net/repair-client.ts implements the port and net/repair-protocol.ts
// checks the bounds on both ends, so they live apart from the session's logic (repair-session.ts).

import type { NodeId } from "../core/ids.js";
import type { KeyedRecord } from "../storage/record.js";
import type { RangeBounds, TreeNode } from "./hash-tree.js";
import type { VersionEntry } from "./tree-diff.js";

/** Message bounds, shared with net/repair-protocol.ts, which checks them on both ends. */
export const REPAIR_LIMITS = {
  /**
   * Ranges per roots question: a node with 256 vnodes and rf 3 replicates ~768 ranges, asked in a
   * few.
   */
  rangesPerRequestMax: 256,
  /** Asks per nodes or entries question. */
  asksPerRequestMax: 1_024,
  /** Tree nodes named in one nodes question (all asks together). */
  nodesPerRequestMax: 8_192,
  /** Levels descended per ask: 2^6 hashes per node at most. */
  levelsPerAskMax: 6,
  /** Records listed for one ask; a longer list is answered null (the initiator splits or skips). */
  entriesPerAskMax: 16_384,
  /** Records the initiator expects in one entries reply (all asks together, by its own counts). */
  entriesPerReplyMax: 65_536,
  /**
   * Records the initiator asks for in one entries request, by its own counts: half of what a reply
   * may carry, so a count that grew meanwhile still fits. (A quarter cost crowded leaves half again
   * as many round trips and more bytes, for a shorter burst on the peer that the small scan batches
   * already give.)
   */
  entriesPerRequestTarget: 32_768,
  /** Records pushed or keys pulled in one exchange. */
  recordsPerExchangeMax: 1_024,
  /**
   * A client closes an exchange once its pushed records hold this many bytes (one larger goes
   * alone).
   */
  exchangeBytesTarget: 4 * 1024 * 1024,
  /** A replica stops adding pulled records to a reply past this many bytes. */
  replyBytesTarget: 8 * 1024 * 1024,
  /** Room for envelopes, keys and framing. */
  envelopeBytesMax: 4 * 1024 * 1024,
} as const;

/** A reply and what it cost on the wire (bodies, both directions). */
export interface Traffic<T> {
  readonly value: T;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface NodesAsk {
  /** The range's index in the session's last roots question. */
  readonly range: number;
  readonly nodes: readonly TreeNode[];
  readonly levels: number;
}

export interface EntriesAsk {
  /** The range's index in the session's last roots question. */
  readonly range: number;
  readonly first: number;
  readonly end: number;
  /** Only bucket `bucket` of 2^bits of the one leaf `first` (range-trees.ts leaf buckets). */
  readonly bits?: number;
  readonly bucket?: number;
}

export interface BucketsAsk {
  readonly range: number;
  readonly leaf: number;
  readonly bits: number;
}

export interface ExchangeResult {
  /** The pulled records the peer holds (a key it no longer holds is simply absent). */
  readonly records: KeyedRecord[];
  /** Pulled keys the peer did not send because its reply was full; asked again. */
  readonly missing: number;
}

/**
 * How a session reaches the other replica (net/repair-client.ts). Every method rejects on failure.
 */
export interface RepairTransport {
  /**
   * The roots of `ranges`, as the node hash window `window` (tree-diff NODE_HASH_BYTES); the peer
   * remembers the list and the window under `session` for the questions that follow.
   */
  roots(
    peer: NodeId,
    session: string,
    window: number,
    ranges: readonly RangeBounds[],
  ): Promise<Traffic<Uint8Array[]>>;
  /** Per ask, the hashes of tree-diff's roundQuestions(tree, ask.nodes, ask.levels), in order. */
  nodes(peer: NodeId, session: string, asks: readonly NodesAsk[]): Promise<Traffic<Uint8Array[][]>>;
  entries(
    peer: NodeId,
    session: string,
    asks: readonly EntriesAsk[],
  ): Promise<Traffic<(VersionEntry[] | null)[]>>;
  /**
   * Per ask, the leaf's 2^bits bucket hashes (node hash window), or null when the leaf is too
   * large.
   */
  buckets(
    peer: NodeId,
    session: string,
    asks: readonly BucketsAsk[],
  ): Promise<Traffic<(Uint8Array[] | null)[]>>;
  exchange(
    peer: NodeId,
    push: readonly KeyedRecord[],
    pull: readonly string[],
  ): Promise<Traffic<ExchangeResult>>;
}
