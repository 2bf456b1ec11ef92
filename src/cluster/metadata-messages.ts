// cluster/metadata-messages.ts — the wire of the metadata exchange (metadata-gossip.ts): shapes,
// bounds, and the check at the edge (peer-messages.ts dispatches here by kind).
//
//   metadata-syn      {digest, maxStampUs, cursor}  a node's pull: "this is what I hold"
//   metadata-entries  {entries, next, rumor, digest} what the other lacks: entries stamped after
//                     its maxStampUs, else a page of all entries in key order after its cursor;
//                     or (rumor) a change just made, pushed to a few peers
//
// Every bound is a named constant: the largest legal message (METADATA_GOSSIP_LIMITS) is far
// below the peer body limit (net/peer-protocol.ts, 4 MiB).

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { PEER_ADDRESS_LENGTH_MAX, PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { isMetadataKey, METADATA_LIMITS, type MetadataEntry } from "./metadata.js";

export const METADATA_GOSSIP_LIMITS = {
  /** Entries in one metadata-entries message. */
  entriesPerMessageMax: 256,
  /** Estimated bytes of the entries in one message (estimateEntryBytes); the rest waits a round. */
  entryBytesPerMessageMax: 256 * 1024,
  /** Peers a local change is pushed to at once, and a peer forwards a new rumor to. */
  rumorFanout: 3,
} as const;

/** Per-entry overhead beyond its strings (numbers, field names, msgpack framing), generously. */
const ENTRY_OVERHEAD_BYTES = 64;

export function estimateEntryBytes(entry: MetadataEntry): number {
  return entry.key.length + entry.value.length + entry.version.origin.length + ENTRY_OVERHEAD_BYTES;
}

const NodeIdSchema = Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX });
const AddressSchema = Type.String({ minLength: 1, maxLength: PEER_ADDRESS_LENGTH_MAX });
const KeySchema = Type.String({ minLength: 3, maxLength: METADATA_LIMITS.keyLengthMax });
const DigestSchema = Type.String({ pattern: "^[0-9a-f]{16}$" });
const StampSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const closed = { additionalProperties: false } as const;

const EntrySchema = Type.Object(
  {
    key: KeySchema,
    value: Type.String({ maxLength: METADATA_LIMITS.valueLengthMax }),
    version: Type.Object(
      {
        stampUs: StampSchema,
        origin: Type.String({ minLength: 1, maxLength: METADATA_LIMITS.originLengthMax }),
      },
      closed,
    ),
  },
  closed,
);

const SynSchema = Type.Object(
  {
    kind: Type.Literal("metadata-syn"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    digest: DigestSchema,
    maxStampUs: StampSchema,
    cursor: Type.Union([KeySchema, Type.Null()]),
  },
  closed,
);

const EntriesSchema = Type.Object(
  {
    kind: Type.Literal("metadata-entries"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    entries: Type.Array(EntrySchema, {
      maxItems: METADATA_GOSSIP_LIMITS.entriesPerMessageMax,
    }),
    /** Where the requester's next page starts (null: from the start); absent when not a page. */
    next: Type.Optional(Type.Union([KeySchema, Type.Null()])),
    /** A change pushed as it was made: forwarded once by a receiver it was new to. */
    rumor: Type.Boolean(),
    /** The sender's digest, for `grapevine status` (who agrees with whom). */
    digest: DigestSchema,
  },
  closed,
);

export type MetadataSyn = Static<typeof SynSchema>;
export type MetadataEntries = Static<typeof EntriesSchema>;
export type MetadataMessage = MetadataSyn | MetadataEntries;

export function isMetadataKind(kind: unknown): kind is MetadataMessage["kind"] {
  return kind === "metadata-syn" || kind === "metadata-entries";
}

export function isMetadataMessage(message: { readonly kind: string }): message is MetadataMessage {
  return isMetadataKind(message.kind);
}

const synCheck = TypeCompiler.Compile(SynSchema);
const entriesCheck = TypeCompiler.Compile(EntriesSchema);

/** Checks a decoded metadata message; throws Error with a short reason. */
export function validateMetadataMessage(value: unknown): MetadataMessage {
  const kind = (value as { kind?: unknown }).kind;
  const check = kind === "metadata-syn" ? synCheck : entriesCheck;
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new Error(
      `bad ${String(kind)}: ${first ? `${first.path} ${first.message}` : "malformed"}`,
    );
  }
  if (kind === "metadata-entries") checkEntries(value as MetadataEntries);
  return value;
}

function checkEntries(message: MetadataEntries): void {
  let bytes = 0;
  const keys = new Set<string>();
  for (const entry of message.entries) {
    if (keys.has(entry.key)) throw new Error(`metadata entries name ${entry.key} twice`);
    if (!isMetadataKey(entry.key))
      throw new Error(`metadata key ${entry.key} is not namespace/name`);
    keys.add(entry.key);
    bytes += estimateEntryBytes(entry);
  }
  if (bytes > METADATA_GOSSIP_LIMITS.entryBytesPerMessageMax)
    throw new Error("metadata entries exceed entryBytesPerMessageMax");
}
