// node/build-metadata.ts — this node's copy of the cluster metadata (cluster/metadata.ts: bucket
// properties): read from metadata.json in the data dir at start, handed to the engine to gossip,
// and saved again after every change, local or learned. A node that restarts therefore serves its
// buckets' properties before it has talked to anyone, and catches up on what it missed from its
// peers' digests (cluster/metadata-gossip.ts). A change lost to a crash before its save is learned
// back from the peers the same way; an unreadable file is logged and the node starts empty.

import { BucketBook } from "../api/bucket-book.js";
import type { NodeId } from "../core/ids.js";
import { ClusterMetadata, isValidEntry, type MetadataEntry } from "../cluster/metadata.js";
import { dataDirStateFiles } from "../storage/atomic-file.js";
import type { StateFiles } from "../storage/state-files.js";
import type { NodeConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { NodeDeps } from "./node-ports.js";

export const METADATA_FILE = "metadata.json";
const METADATA_FORMAT = 1;

export interface NodeMetadata {
  readonly metadata: ClusterMetadata;
  /** Resolves once every change so far is saved (or failed and was logged). */
  flushed(): Promise<void>;
}

export async function openNodeMetadata(input: {
  readonly config: NodeConfig;
  readonly ports: NodeDeps;
  readonly log: Logger;
}): Promise<NodeMetadata> {
  const { config, ports, log } = input;
  const files = ports.stateFiles ?? dataDirStateFiles(config.dataDir);
  const metadata = new ClusterMetadata(await readSaved(files, log));
  let running: Promise<void> | null = null;
  let dirty = false;
  const drain = async (): Promise<void> => {
    try {
      while (dirty) {
        dirty = false;
        const body = { format: METADATA_FORMAT, entries: metadata.list() };
        await files
          .write(METADATA_FILE, `${JSON.stringify(body, null, 2)}\n`)
          .catch((error: unknown) =>
            log.warn({ err: error, file: METADATA_FILE }, "could not save the cluster metadata"),
          );
      }
    } finally {
      running = null;
    }
  };
  // One write in flight; changes meanwhile are saved by the next (bursts cost two writes).
  metadata.onChange(() => {
    dirty = true;
    running ??= drain();
  });
  return {
    metadata,
    async flushed() {
      while (running !== null) await running;
    },
  };
}

async function readSaved(files: StateFiles, log: Logger): Promise<MetadataEntry[]> {
  let value: unknown;
  try {
    value = await files.read(METADATA_FILE);
  } catch (error) {
    log.warn({ err: error, file: METADATA_FILE }, "cluster metadata unreadable: starting empty");
    return [];
  }
  if (value === undefined) return [];
  // As in topology/known-peers.ts: the cast is what lets the checks below read fields.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const body = value as { format?: unknown; entries?: unknown } | null;
  if (body?.format !== METADATA_FORMAT || !Array.isArray(body.entries)) {
    log.warn({ file: METADATA_FILE }, "cluster metadata in an unknown format: starting empty");
    return [];
  }
  return (body.entries as unknown[]).filter(isEntry);
}

function isEntry(value: unknown): value is MetadataEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Partial<Record<keyof MetadataEntry, unknown>>;
  const version = entry.version as { stampUs?: unknown; origin?: unknown } | null | undefined;
  return (
    typeof entry.key === "string" &&
    typeof entry.value === "string" &&
    typeof version?.stampUs === "number" &&
    typeof version.origin === "string" &&
    isValidEntry(entry as MetadataEntry)
  );
}

/** Bucket properties over the metadata, defaulting to and bounded by the node's settings. */
export function bucketBookOf(
  config: NodeConfig,
  self: NodeId,
  metadata: ClusterMetadata,
  stamp: () => number,
): BucketBook {
  const { replicationFactor, readConsistency, writeConsistency, maxValueBytes } = config;
  return new BucketBook({
    metadata,
    self,
    stamp,
    defaults: { replicationFactor, readConsistency, writeConsistency, maxValueBytes },
  });
}
