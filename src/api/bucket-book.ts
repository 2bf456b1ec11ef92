// api/bucket-book.ts — the buckets' properties as the routes see them, over the cluster metadata
// (cluster/metadata.ts): read from the `bucket/<name>` entries (parsed once per version), and set
// as a new entry stamped by this node's hybrid logical clock, which the metadata exchange then
// spreads (cluster/metadata-gossip.ts).

import { assert } from "../core/assert.js";
import type { NodeId } from "../core/ids.js";
import type { ClusterMetadata, MetadataEntry, MetadataVersion } from "../cluster/metadata.js";
import { isBucketName } from "../storage/bucket-keys.js";
import {
  BUCKET_NAMESPACE,
  effectiveProps,
  storedPropsOf,
  type BucketDefaults,
  type BucketProps,
  type StoredBucketProps,
} from "./bucket-props.js";

export interface BucketRecord {
  readonly bucket: string;
  readonly stored: StoredBucketProps;
  /** The version of the stored properties; null when none were ever set. */
  readonly version: MetadataVersion | null;
}

export interface BucketBookOptions {
  readonly metadata: ClusterMetadata;
  readonly self: NodeId;
  /** A fresh HLC timestamp (µs) for a change made here. */
  readonly stamp: () => number;
  readonly defaults: BucketDefaults;
}

export class BucketBook {
  private readonly parsed = new WeakMap<MetadataEntry, StoredBucketProps>();

  constructor(private readonly options: BucketBookOptions) {}

  get defaults(): BucketDefaults {
    return this.options.defaults;
  }

  record(bucket: string): BucketRecord {
    const entry = this.options.metadata.get(keyOf(bucket));
    if (entry === undefined) return { bucket, stored: {}, version: null };
    return { bucket, stored: this.storedOf(entry), version: entry.version };
  }

  /** The properties in effect for a bucket's requests. */
  props(bucket: string): BucketProps {
    return effectiveProps(this.record(bucket).stored, this.options.defaults);
  }

  /** Stores a bucket's properties as a new version, to be gossiped; returns the new record. */
  set(bucket: string, stored: StoredBucketProps): BucketRecord {
    const { metadata, self, stamp } = this.options;
    // Stamped after the version it replaces, whatever this node's clock says.
    const previous = metadata.get(keyOf(bucket))?.version.stampUs ?? 0;
    const version = { stampUs: Math.max(stamp(), previous + 1), origin: self };
    const entry = { key: keyOf(bucket), value: JSON.stringify(stored), version };
    const changed = metadata.setLocal(entry);
    assert(changed, "a freshly stamped entry wins");
    return this.record(bucket);
  }

  /** Every bucket with properties set, by name. */
  list(): BucketRecord[] {
    const prefix = `${BUCKET_NAMESPACE}/`;
    return this.options.metadata
      .listNamespace(BUCKET_NAMESPACE)
      .map((entry) => ({
        bucket: entry.key.slice(prefix.length),
        stored: this.storedOf(entry),
        version: entry.version,
      }))
      .filter((record) => isBucketName(record.bucket));
  }

  private storedOf(entry: MetadataEntry): StoredBucketProps {
    let stored = this.parsed.get(entry);
    if (stored === undefined) {
      stored = storedPropsOf(entry.value);
      this.parsed.set(entry, stored);
    }
    return stored;
  }
}

function keyOf(bucket: string): string {
  return `${BUCKET_NAMESPACE}/${bucket}`;
}
