// storage/bucket-scan.ts — one bounded page of a bucket's keys out of this node's store, for key
// listing (issue 17 §4; replication/key-lister.ts drives it, net/list-page-routes.ts serves it).
//
// Theory of operation. Storage keys are ordered by token (layout.ts), not by bucket, so a bucket's
// keys are found by scanning a token range and keeping the stored keys whose bucket matches
// (bucket-keys.ts bucketKeyOf). A page is bounded twice: by the keys it returns (`keysMax`) and by
// the records it visits (`visitedMax`), so a request for a small bucket on a node holding many
// others still ends quickly; the page then says how far it got (`reached`), and the next page
// resumes strictly after that position, as range streaming resumes (layout.ts
// dataRangeBoundsAfter). `reached` null means the range is exhausted.
//
// Tombstones are returned, flagged, not dropped: a replica's page is merged with other replicas'
// (replication/list-merge.ts), and a delete this replica holds must beat an older live version
// another replica still holds. The merge drops tombstones before anything reaches a client.

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { Token } from "../ring/partitioner.js";
import { bucketKeyOf } from "./bucket-keys.js";
import { readsAsAbsent } from "./expiry.js";
import type { TokenRangeBounds } from "./layout.js";
import type { StoredRecord } from "./record.js";
import type { Store } from "./store.js";

export const BUCKET_SCAN_LIMITS = {
  /** Keys one page returns at most. */
  keysMax: 1_000,
  /** Records one page visits at most, of any bucket: what bounds a page's time and memory. */
  visitedMax: 10_000,
  /** Records fetched per LevelDB round trip. */
  batchSize: 256,
} as const;

/** A place in token order: after the data key (token, stored key). */
export interface ScanPosition {
  readonly token: Token;
  /** The stored key (bucket-keys.ts storedKeyOf), as the layout orders it. */
  readonly storedKey: string;
}

/** One key of the bucket as this replica holds it. */
export interface BucketScanEntry {
  /** The user's key (without the bucket). */
  readonly key: string;
  readonly token: Token;
  readonly timestampUs: number;
  readonly writer: NodeId;
  /** A delete (or, once TTL lands, an expired record): the merge drops the key. */
  readonly tombstone: boolean;
}

export interface BucketScanRequest {
  readonly bucket: string;
  /** The token range (start, end] to list. */
  readonly range: TokenRangeBounds;
  /** Resume strictly after this position (which lies in the range); null: from the start. */
  readonly after: ScanPosition | null;
  readonly keysMax: number;
  readonly visitedMax: number;
}

export interface BucketScanPage {
  /** The bucket's keys in token order, tombstones included (flagged). */
  readonly entries: BucketScanEntry[];
  /** The last position visited (the next page resumes after it); null: the range is done. */
  readonly reached: ScanPosition | null;
  /** Records the page visited, of every bucket: the cost of listing by scanning. */
  readonly visited: number;
}

/**
 * Whether a record counts as deleted for listing: a tombstone, or a value whose time to live has
 * passed by this replica's clock (issue 17 §3), which keeps its timestamp as a tombstone does, so
 * the merge still lets it hide older versions on other replicas.
 */
function deletedForListing(record: StoredRecord, nowUs: number): boolean {
  return readsAsAbsent(record, nowUs);
}

/** The range left after a position: the tail of its token, then up to the range's end. */
function remainingRange(range: TokenRangeBounds, after: ScanPosition | null): TokenRangeBounds {
  return after === null ? range : { start: after.token, end: range.end };
}

/** One page of the bucket's keys in the range (the module's comment). */
export async function scanBucketPage(
  store: Pick<Store, "scanRange">,
  request: BucketScanRequest,
  nowUs: number,
): Promise<BucketScanPage> {
  const { bucket, range, after, keysMax, visitedMax } = request;
  assert(Number.isSafeInteger(keysMax) && keysMax >= 1, "keysMax must be a positive integer");
  assert(Number.isSafeInteger(visitedMax) && visitedMax >= 1, "visitedMax must be positive");
  const entries: BucketScanEntry[] = [];
  let visited = 0;
  let last: ScanPosition | null = null;
  const scan = store.scanRange(remainingRange(range, after), {
    batchSize: BUCKET_SCAN_LIMITS.batchSize,
    limit: visitedMax,
    tombstones: true,
    afterKey: after?.storedKey ?? null,
  });
  for await (const scanned of scan) {
    visited += 1;
    last = { token: scanned.token, storedKey: scanned.key };
    const owner = bucketKeyOf(scanned.key);
    if (owner.bucket === bucket) {
      const { timestampUs, writer } = scanned.record;
      const tombstone = deletedForListing(scanned.record, nowUs);
      entries.push({ key: owner.key, token: scanned.token, timestampUs, writer, tombstone });
      if (entries.length >= keysMax) break;
    }
    if (visited >= visitedMax) break;
  }
  // Stopped by a bound: more may follow (an extra empty page at worst). Else the range is done.
  const bounded = entries.length >= keysMax || visited >= visitedMax;
  return { entries, reached: bounded ? last : null, visited };
}
