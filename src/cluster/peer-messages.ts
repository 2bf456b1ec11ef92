// Every node-to-node message of the membership core: gossip (gossip/messages.ts) and the direct
// heartbeats that feed the monitors' phi-accrual detectors. The shells validate with
// validatePeerMessage before anything trusts a decoded body (ARCHITECTURE §6.5).

import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { validateGossipMessage, type GossipMessage } from "../gossip/messages.js";

/** Ids and addresses are short; anything longer is malformed, not a name. */
export const NODE_ID_BYTES_MAX = 256;
export const ADDRESS_BYTES_MAX = 256;

const HeartbeatSchema = Type.Object(
  {
    kind: Type.Literal("heartbeat"),
    from: Type.String({ minLength: 1, maxLength: NODE_ID_BYTES_MAX }),
    generation: Type.Integer({ minimum: 0 }),
    incarnation: Type.Integer({ minimum: 0 }),
    sequence: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** A member's direct "I am alive" to one of its monitors, sent every tick. */
export type HeartbeatMessage = Static<typeof HeartbeatSchema>;

export type PeerMessage = GossipMessage | HeartbeatMessage;

export class PeerMessageError extends Error {
  override readonly name = "PeerMessageError";
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
      throw new PeerMessageError(`bad heartbeat: ${first ? `${first.path} ${first.message}` : "malformed"}`);
    }
    return value;
  }
  try {
    return validateGossipMessage(value);
  } catch (error) {
    throw new PeerMessageError(error instanceof Error ? error.message : "malformed gossip message");
  }
}

export function isHeartbeat(message: PeerMessage): message is HeartbeatMessage {
  return message.kind === "heartbeat";
}
