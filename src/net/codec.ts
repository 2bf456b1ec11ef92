// Node-to-node bodies are msgpack (msgpackr). One Packr for the whole process: structured records
// off, so every message decodes on its own without shared structure state between peers, and 64-bit
// integers decode as bigint so tokens survive the trip exactly.
//
// Heartbeats are the most frequent message by far (every member sends one to each of its monitors
// every tick), so they travel as a five-element array instead of a map: the field names would be
// more than half of every heartbeat's bytes. Decoding turns the array back into the object the
// schema checks, so nothing above this file sees the difference.

import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false, int64AsType: "bigint", mapsAsObjects: true });

export const PEER_CONTENT_TYPE = "application/msgpack";

const HEARTBEAT_WIRE_TAG = "hb";

interface HeartbeatShape {
  kind: "heartbeat";
  from: unknown;
  generation: unknown;
  incarnation: unknown;
  sequence: unknown;
}

function isHeartbeatShape(value: unknown): value is HeartbeatShape {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "heartbeat"
  );
}

export function encodePeerBody(value: unknown): Buffer {
  if (isHeartbeatShape(value) && Object.keys(value).length === 5) {
    return packr.pack([
      HEARTBEAT_WIRE_TAG,
      value.from,
      value.generation,
      value.incarnation,
      value.sequence,
    ]);
  }
  return packr.pack(value);
}

/** Decodes msgpack; throws on malformed input (callers turn that into a 400 and a counter). */
export function decodePeerBody(body: Uint8Array): unknown {
  const value: unknown = packr.unpack(body);
  if (Array.isArray(value) && value.length === 5 && value[0] === HEARTBEAT_WIRE_TAG) {
    const [, from, generation, incarnation, sequence] = value as unknown[];
    return { kind: "heartbeat", from, generation, incarnation, sequence };
  }
  return value;
}
