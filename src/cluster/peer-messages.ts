// Every node-to-node message of the membership core: gossip (gossip/messages.ts) and the direct
// heartbeats that feed the monitors' phi-accrual detectors. The shells validate with
// validatePeerMessage before anything trusts a decoded body (ARCHITECTURE §6.5).

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GrapevineError } from "../core/errors.js";
import { PEER_NODE_ID_LENGTH_MAX } from "../core/limits.js";
import { validateGossipMessage, type GossipMessage } from "../gossip/messages.js";
import {
  isMetadataKind,
  validateMetadataMessage,
  type MetadataMessage,
} from "./metadata-messages.js";

// Ids and addresses are short; anything longer is malformed, not a name (core/limits.ts).

const HeartbeatSchema = Type.Object(
  {
    kind: Type.Literal("heartbeat"),
    from: Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX }),
    generation: Type.Integer({ minimum: 0 }),
    incarnation: Type.Integer({ minimum: 0 }),
    sequence: Type.Integer({ minimum: 0 }),
    /**
     * The sender's wall clock (ms) as it sent: t0 of an NTP exchange (time/clock-offset.ts).
     * Stamped by the node's shell, not the engine (the engine has only monotonic time); absent in
     * the simulator and from older nodes, and then the receiver answers 204 with no times.
     */
    sentWallMs: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** A member's direct "I am alive" to one of its monitors, sent every tick. */
export type HeartbeatMessage = Static<typeof HeartbeatSchema>;

const HeartbeatReplySchema = Type.Object(
  {
    kind: Type.Literal("heartbeat-reply"),
    /** The monitor that answered. */
    from: Type.String({ minLength: 1, maxLength: PEER_NODE_ID_LENGTH_MAX }),
    /** The heartbeat's sentWallMs, echoed so the sender keeps no state per heartbeat. */
    t0: Type.Number({ minimum: 0 }),
    /** The monitor's wall clock when the heartbeat arrived, and when it answered (ms). */
    t1: Type.Number({ minimum: 0 }),
    t2: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** A monitor's answer to a timed heartbeat: the other half of the NTP exchange. */
export type HeartbeatReply = Static<typeof HeartbeatReplySchema>;

const heartbeatReplyCheck = TypeCompiler.Compile(HeartbeatReplySchema);

/** The reply, or null when it is not a valid heartbeat reply (counted by the caller). */
export function validateHeartbeatReply(value: unknown): HeartbeatReply | null {
  return heartbeatReplyCheck.Check(value) ? value : null;
}

/** Gossip, heartbeats, and the exchange of cluster metadata (metadata-messages.ts). */
export type PeerMessage = GossipMessage | HeartbeatMessage | MetadataMessage;

/**
 * A peer message that is not valid: 400 `bad_request` (core/errors.ts), answered by the peer route
 * as it is. Named because the simulator's network refuses with it too, in the mode that fails
 * loudly.
 */
export class PeerMessageError extends GrapevineError {
  override readonly name = "PeerMessageError";
  constructor(message: string) {
    super("bad_request", message);
  }
}

const heartbeatCheck = TypeCompiler.Compile(HeartbeatSchema);

export function validatePeerMessage(value: unknown): PeerMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PeerMessageError("a peer message must be an object");
  }
  const kind = (value as { kind?: unknown }).kind;
  if (kind === "heartbeat") {
    if (!heartbeatCheck.Check(value)) {
      const first = heartbeatCheck.Errors(value).First();
      throw new PeerMessageError(
        `bad heartbeat: ${first ? `${first.path} ${first.message}` : "malformed"}`,
      );
    }
    return value;
  }
  if (isMetadataKind(kind)) {
    try {
      return validateMetadataMessage(value);
    } catch (error) {
      throw new PeerMessageError(error instanceof Error ? error.message : "malformed metadata");
    }
  }
  try {
    return validateGossipMessage(value);
  } catch (error) {
    throw new PeerMessageError(error instanceof Error ? error.message : "malformed gossip message");
  }
}
