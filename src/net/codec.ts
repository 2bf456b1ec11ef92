// Node-to-node bodies are msgpack (msgpackr). One Packr for the whole process: structured records off,
// so every message decodes on its own without shared structure state between peers, and 64-bit
// integers decode as bigint so tokens survive the trip exactly.

import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false, int64AsType: "bigint", mapsAsObjects: true });

export const PEER_CONTENT_TYPE = "application/msgpack";

export function encodePeerBody(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes msgpack; throws on malformed input (callers turn that into a 400 and a counter). */
export function decodePeerBody(body: Uint8Array): unknown {
  return packr.unpack(body);
}
