// replication/key-lister.ts — the live keys of a bucket, gathered from the whole ring as a coverage
// query (issue 17 §4): the IO shell around replication/list-merge.ts.
//
// Theory of operation. The token space is walked in order from 0 to TOKEN_MAX, one piece at a
// time: the part of a ring range from the cursor to the range's end (the wrapping range is taken as
// its two halves, so order is plain token order and a continuation is one position). Each piece is
// read from as many live replicas as the read level needs (this node first when it is one), page
// by page (storage/bucket-scan.ts, locally or through a ListPageTransport), and merged
// (list-merge.ts): a key any of them holds live and none holds deleted later is listed, once.
// The ring is read again for every piece, so a listing long enough to span a ring change follows
// it. A replica that fails is swapped for another live replica of the piece not yet read; with no
// substitute the listing fails (`unavailable`). Memory: one page per replica read.

import type { NodeId } from "../core/ids.js";
import { GrapevineError } from "../core/errors.js";
import { TOKEN_MAX, type Token } from "../ring/partitioner.js";
import { sharedReplicasFor } from "../ring/placement.js";
import type { TokenMap } from "../ring/token-map.js";
import type { TokenRangeBounds } from "../storage/layout.js";
import {
  BUCKET_SCAN_LIMITS,
  type BucketScanPage,
  type BucketScanRequest,
  type ScanPosition,
} from "../storage/bucket-scan.js";
import { requiredReplicas, type ConsistencyLevel } from "./consistency.js";
import { ListMerge, type MergedKey } from "./list-merge.js";

/** How a replica's page is fetched: this node's store, or a peer's list route. */
export interface ListPageTransport {
  page(node: NodeId, request: BucketScanRequest): Promise<BucketScanPage>;
}

export interface KeyListerDeps {
  readonly self: NodeId;
  readonly replicationFactor: number;
  readonly ring: () => TokenMap;
  readonly isLive: (node: NodeId) => boolean;
  readonly transport: ListPageTransport;
  /**
   * Whether this node's own store may be read (false while crash recovery repairs it: it may lack
   * acknowledged writes); a replica like any other when absent.
   */
  readonly localReadable?: () => boolean;
  /** Told of every replica page received (the metrics: pages, records visited). */
  readonly onPage?: (node: NodeId, page: BucketScanPage) => void;
}

export interface KeyListRequest {
  readonly bucket: string;
  /** Resume strictly after this position; null: from token 0. */
  readonly after: ScanPosition | null;
  readonly level: ConsistencyLevel;
  /** Keys per replica page; default BUCKET_SCAN_LIMITS.keysMax. */
  readonly pageKeysMax?: number;
}

/** One part of the token space: the range's bounds and the replicas that hold it. */
interface Piece {
  readonly range: TokenRangeBounds;
  readonly replicas: readonly NodeId[];
}

/** Where the walk stands: the next token to cover, and the position within it to resume after. */
interface Cursor {
  readonly from: Token;
  readonly after: ScanPosition | null;
}

/** The piece of the ring from `from` to the end of the range holding it (the module's comment). */
export function pieceAt(ring: TokenMap, from: Token, replicationFactor: number): Piece {
  const range = ring.ranges()[ring.rangeIndexOf(from)];
  if (range === undefined) throw new GrapevineError("unavailable", "the ring is empty");
  const end = range.start < range.end || from <= range.end ? range.end : TOKEN_MAX;
  // (TOKEN_MAX, end] is the stretch [0, end] (storage/layout.ts dataRangeBounds).
  const start = from === 0n ? TOKEN_MAX : from - 1n;
  return { range: { start, end }, replicas: sharedReplicasFor(ring, from, replicationFactor) };
}

export class KeyLister {
  constructor(private readonly deps: KeyListerDeps) {}

  /**
   * Refuses at once, before anything is sent, when some range has fewer live replicas than the
   * level needs (SPEC §2 `unavailable`, with `required` and `alive`).
   */
  checkAvailable(level: ConsistencyLevel): void {
    const { ring, replicationFactor } = this.deps;
    const current = ring();
    if (current.size === 0) throw new GrapevineError("unavailable", "the ring is empty");
    const required = requiredReplicas(level, replicationFactor);
    for (const range of current.ranges()) {
      const replicas = sharedReplicasFor(current, range.end, replicationFactor);
      const alive = this.#candidates(replicas).length;
      if (alive < required)
        throw new GrapevineError("unavailable", "too few live replicas to list a range", {
          required,
          alive,
        });
    }
  }

  /** The bucket's live keys after the request's position, in token order, each once. */
  async *keys(request: KeyListRequest): AsyncGenerator<MergedKey> {
    let cursor: Cursor | null =
      request.after === null
        ? { from: 0n, after: null }
        : { from: request.after.token, after: request.after };
    while (cursor !== null) {
      const piece = pieceAt(this.deps.ring(), cursor.from, this.deps.replicationFactor);
      yield* this.#listPiece(request, piece, cursor.after);
      cursor = piece.range.end === TOKEN_MAX ? null : { from: piece.range.end + 1n, after: null };
    }
  }

  async *#listPiece(
    request: KeyListRequest,
    piece: Piece,
    after: ScanPosition | null,
  ): AsyncGenerator<MergedKey> {
    const required = requiredReplicas(request.level, this.deps.replicationFactor);
    const candidates = this.#candidates(piece.replicas);
    if (candidates.length < required)
      throw new GrapevineError("unavailable", "too few live replicas to list a range", {
        required,
        alive: candidates.length,
      });
    const spare = candidates.slice(required);
    const merge = new ListMerge(request.bucket, candidates.slice(0, required), after);
    while (!merge.done()) {
      const asked = merge.wants();
      const pages = await Promise.allSettled(
        asked.map((node) => this.#page(request, piece, node, merge.resumeAfter(node))),
      );
      asked.forEach((node, index) => {
        const settled = pages[index];
        if (settled?.status === "fulfilled" && this.#received(merge, node, settled.value)) return;
        const substitute = spare.shift();
        if (substitute === undefined)
          throw new GrapevineError("unavailable", `replica ${node} failed while listing keys`, {
            required,
            alive: required - 1,
          });
        merge.replace(node, substitute);
      });
      yield* merge.take();
    }
  }

  /** Takes a page into the merge; false when the replica sent one the merge refuses. */
  #received(merge: ListMerge, node: NodeId, page: BucketScanPage): boolean {
    try {
      merge.receive(node, page);
      return true;
    } catch {
      return false;
    }
  }

  async #page(
    request: KeyListRequest,
    piece: Piece,
    node: NodeId,
    after: ScanPosition | null,
  ): Promise<BucketScanPage> {
    const page = await this.deps.transport.page(node, {
      bucket: request.bucket,
      range: piece.range,
      after,
      keysMax: request.pageKeysMax ?? BUCKET_SCAN_LIMITS.keysMax,
      visitedMax: BUCKET_SCAN_LIMITS.visitedMax,
    });
    this.deps.onPage?.(node, page);
    return page;
  }

  /**
   * The replicas that may be read: the live ones, this node first (its page costs no request) when
   * its store is readable.
   */
  #candidates(replicas: readonly NodeId[]): NodeId[] {
    const { self, isLive } = this.deps;
    const selfReadable = this.deps.localReadable?.() ?? true;
    const others = replicas.filter((node) => node !== self && isLive(node));
    return selfReadable && replicas.includes(self) ? [self, ...others] : others;
  }
}
