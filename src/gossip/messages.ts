// gossip/messages.ts — the gossip wire: message shapes, their bounds, and the check at the edge.
//
// Theory of operation. A round is Cassandra's three-way exchange with one cheap step in front:
//
//   initiator                         peer
//   gossip-syn      {summary}    →                  equal summaries: nothing more is sent
//                                ← gossip-digests {digests (a window of the peer's members),
//                                requester}
//   gossip-ack {deltas, requests} → (Cassandra's ACK: what the peer lacks, what we lack)
//                                ←  gossip-ack2     {deltas answering the requests}
//   gossip-rumor {deltas} → (any time) an urgent change, pushed to a few live peers once
//
// The transport is one-way datagrams, so every message names its sender (`from`, `fromAddress`) and
// a reply is just another message. Every shape is plain objects, arrays, strings, integers,
// booleans and null, so it survives msgpack unchanged.
//
// A delta entry carries a claim, (fromVersion, throughVersion]: it holds every state of the member
// whose version lies in that range (states outside it may ride along, e.g. rumored ones). A
// receiver whose knowledge reaches fromVersion may then advance to throughVersion; otherwise it
// applies the states but does not advance, so a gap is never papered over (gossiper.ts explains
// why).
//
// Every list and string is bounded below so that the largest legal message fits the peer body limit
// (net/peer-protocol.ts, 4 MiB): a digests message is at most 4,097 digests × ~330 bytes ≈ 1.4 MB;
// an ack is at most 4,096 requests (≈1.4 MB) plus deltas whose estimated size (string lengths) is
// at most `deltaBytesPerMessageMax`, 512 Ki, i.e. ≤ 1.5 MiB of UTF-8 even if every character took 3
// bytes.

import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { PEER_ADDRESS_LENGTH_MAX, PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";

/**
 * Bounds of every gossip message; what a sender emits always fits them, a receiver refuses the
 * rest.
 */
export const GOSSIP_LIMITS = {
  /** Ids are short names; longer is malformed (core/limits.ts, shared with every peer message). */
  nodeIdLengthMax: PEER_NODE_ID_LENGTH_MAX,
  /** `host:port`; longer is malformed. */
  addressLengthMax: PEER_ADDRESS_LENGTH_MAX,
  /** Application state keys are names (`status`, `tokens`, `votes`, ...). */
  keyLengthMax: 64,
  /**
   * An application state's value, in characters: 1,024 tokens (~20 KB) or 256 votes (~100 KB) fit.
   */
  valueLengthMax: 131_072,
  /** Application states one member may publish; more is refused (setLocal asserts, merge stops). */
  appStatesPerEndpointMax: 64,
  /** Digests in one message; a larger membership is sent as a rotating window (gossiper.ts). */
  digestsPerMessageMax: 4096,
  /** Delta entries (members) in one message. */
  deltasPerMessageMax: 4096,
  /**
   * Estimated delta size per message (estimateEntryBytes + estimateStateBytes); beyond it the delta
   * is truncated and the next round continues.
   */
  deltaBytesPerMessageMax: 512 * 1024,
  /** A summary is 64 bits as 16 lowercase hex digits. */
  summaryLength: 16,
} as const;

/**
 * Per-entry and per-state overhead beyond the strings (numbers, field names, framing): at least
 * what msgpack spends.
 */
export const DELTA_ENTRY_OVERHEAD_BYTES = 96;
export const APP_STATE_OVERHEAD_BYTES = 40;

/** Estimated bytes of one delta entry without its states. */
export function estimateEntryBytes(id: string, address: string): number {
  return id.length + address.length + DELTA_ENTRY_OVERHEAD_BYTES;
}

/** Estimated bytes of one application state in a delta. */
export function estimateStateBytes(key: string, value: string): number {
  return key.length + value.length + APP_STATE_OVERHEAD_BYTES;
}

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Generation = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const NodeIdSchema = Type.String({ minLength: 1, maxLength: GOSSIP_LIMITS.nodeIdLengthMax });
const AddressSchema = Type.String({ minLength: 1, maxLength: GOSSIP_LIMITS.addressLengthMax });
const closed = { additionalProperties: false } as const;

const DigestSchema = Type.Object(
  { id: NodeIdSchema, generation: Generation, maxVersion: Count },
  closed,
);

/** A request names what the requester holds; generation 0 means "nothing: send all of it". */
const RequestSchema = Type.Object(
  { id: NodeIdSchema, generation: Count, maxVersion: Count },
  closed,
);

const AppStateEntrySchema = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: GOSSIP_LIMITS.keyLengthMax }),
    value: Type.String({ maxLength: GOSSIP_LIMITS.valueLengthMax }),
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  },
  closed,
);

const DeltaSchema = Type.Object(
  {
    id: NodeIdSchema,
    address: AddressSchema,
    generation: Generation,
    fromVersion: Count,
    throughVersion: Count,
    states: Type.Array(AppStateEntrySchema, { maxItems: GOSSIP_LIMITS.appStatesPerEndpointMax }),
  },
  closed,
);

const Deltas = Type.Array(DeltaSchema, { maxItems: GOSSIP_LIMITS.deltasPerMessageMax });
const Digests = Type.Array(DigestSchema, { maxItems: GOSSIP_LIMITS.digestsPerMessageMax });
const Requests = Type.Array(RequestSchema, { maxItems: GOSSIP_LIMITS.digestsPerMessageMax });

const SynSchema = Type.Object(
  {
    kind: Type.Literal("gossip-syn"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    summary: Type.String({ pattern: "^[0-9a-f]{16}$" }),
  },
  closed,
);

const DigestsSchema = Type.Object(
  {
    kind: Type.Literal("gossip-digests"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    /** A window of the sender's members in id order (cyclic), or all of them when `complete`. */
    digests: Digests,
    complete: Type.Boolean(),
    /** The sender's digest of the requester itself (null: unknown to the sender). */
    requester: Type.Union([DigestSchema, Type.Null()]),
  },
  closed,
);

const AckSchema = Type.Object(
  {
    kind: Type.Literal("gossip-ack"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    deltas: Deltas,
    requests: Requests,
  },
  closed,
);

const Ack2Schema = Type.Object(
  {
    kind: Type.Literal("gossip-ack2"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    deltas: Deltas,
  },
  closed,
);

const RumorSchema = Type.Object(
  {
    kind: Type.Literal("gossip-rumor"),
    from: NodeIdSchema,
    fromAddress: AddressSchema,
    deltas: Deltas,
  },
  closed,
);

export type Digest = Static<typeof DigestSchema>;
export type DigestRequest = Static<typeof RequestSchema>;
export type AppStateEntry = Static<typeof AppStateEntrySchema>;
export type Delta = Static<typeof DeltaSchema>;
export type GossipSyn = Static<typeof SynSchema>;
export type GossipDigests = Static<typeof DigestsSchema>;
export type GossipAck = Static<typeof AckSchema>;
export type GossipAck2 = Static<typeof Ack2Schema>;
export type GossipRumor = Static<typeof RumorSchema>;
export type GossipMessage = GossipSyn | GossipDigests | GossipAck | GossipAck2 | GossipRumor;
export type GossipMessageKind = GossipMessage["kind"];

export const GOSSIP_MESSAGE_KINDS: readonly GossipMessageKind[] = [
  "gossip-syn",
  "gossip-digests",
  "gossip-ack",
  "gossip-ack2",
  "gossip-rumor",
];

export class GossipMessageError extends Error {
  override readonly name = "GossipMessageError";
}

// Compiled once at load: these are immutable checkers, not mutable module state.
const checks: { readonly [K in GossipMessageKind]: TypeCheck<TSchema> } = {
  "gossip-syn": TypeCompiler.Compile(SynSchema),
  "gossip-digests": TypeCompiler.Compile(DigestsSchema),
  "gossip-ack": TypeCompiler.Compile(AckSchema),
  "gossip-ack2": TypeCompiler.Compile(Ack2Schema),
  "gossip-rumor": TypeCompiler.Compile(RumorSchema),
};

function isKind(kind: unknown): kind is GossipMessageKind {
  return typeof kind === "string" && (GOSSIP_MESSAGE_KINDS as readonly string[]).includes(kind);
}

/**
 * Checks a decoded body before anything trusts it: shape, types, every bound, and the rules a
 * schema cannot say (no member twice in one list, no key twice in one delta, claims that make
 * sense, the delta size estimate). Throws GossipMessageError with a short reason.
 */
export function validateGossipMessage(value: unknown): GossipMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new GossipMessageError("a gossip message must be an object");
  }
  const kind = (value as { kind?: unknown }).kind;
  if (!isKind(kind)) throw new GossipMessageError("unknown gossip message kind");
  const check = checks[kind];
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new GossipMessageError(
      `bad ${kind}: ${first ? `${first.path || "/"} ${first.message}` : "malformed"}`,
    );
  }
  const message = value as GossipMessage;
  switch (message.kind) {
    case "gossip-syn":
      break;
    case "gossip-digests":
      requireDistinctIds(message.digests, "digests");
      break;
    case "gossip-ack":
      requireDistinctIds(message.requests, "requests");
      checkDeltas(message.deltas);
      break;
    case "gossip-ack2":
    case "gossip-rumor":
      checkDeltas(message.deltas);
      break;
  }
  return message;
}

function requireDistinctIds(items: readonly { readonly id: string }[], what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) throw new GossipMessageError(`${what} name member ${item.id} twice`);
    seen.add(item.id);
  }
}

function checkDeltas(deltas: readonly Delta[]): void {
  requireDistinctIds(deltas, "deltas");
  let bytes = 0;
  for (const delta of deltas) {
    if (delta.throughVersion < delta.fromVersion) {
      throw new GossipMessageError(`delta of ${delta.id} ends before it starts`);
    }
    bytes += estimateEntryBytes(delta.id, delta.address);
    const keys = new Set<string>();
    for (const state of delta.states) {
      if (state.version <= delta.fromVersion) {
        throw new GossipMessageError(
          `delta of ${delta.id} holds a state at or below its fromVersion`,
        );
      }
      if (keys.has(state.key))
        throw new GossipMessageError(`delta of ${delta.id} names key ${state.key} twice`);
      keys.add(state.key);
      bytes += estimateStateBytes(state.key, state.value);
    }
  }
  if (bytes > GOSSIP_LIMITS.deltaBytesPerMessageMax) {
    throw new GossipMessageError("deltas exceed deltaBytesPerMessageMax");
  }
}
