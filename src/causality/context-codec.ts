// causality/context-codec.ts — the causal context a client saw (issue 16 §3), as the opaque,
// URL-safe string of the `X-Grapevine-Context` header, and back.
//
// Format: base64url of one format byte (CONTEXT_FORMAT) followed by msgpack of a flat array
// [actor, counter, actor, counter, …], entries sorted by actor (JavaScript string order, as in
// dvvset.ts) without repeats. Entries with counter 0 say nothing (no event seen) and are left out,
// so the encoding is canonical: equal contexts encode to the same string, and a client may compare
// two contexts as strings (If-Match). The string is opaque to clients: the format may change,
// which is what the format byte is for.
//
// Decoding trusts nothing: the string's length and alphabet, the format byte, the msgpack, the
// shape, every actor (a non-empty string of at most CONTEXT_LIMITS.actorBytesMax bytes), every
// counter (a positive safe integer), the order, the number of entries; and finally that the string
// is exactly what this codec makes of the context it holds (no trailing bytes, no other msgpack
// spelling of the same numbers), so a context is accepted only in its one canonical form. Anything
// else — truncated, edited, another format, another program's garbage — throws `bad_context`
// (400) and never reaches the DVVSet code, whose invariants are assertions.

import { Packr } from "msgpackr";
import { assert } from "../core/assert.js";
import { GrapevineError } from "../core/errors.js";
import { NODE_ID_BYTES_MAX } from "../core/limits.js";
import type { Actor, VersionVector } from "./dvvset.js";

/** The first byte of every encoded context; a decoder refuses any other. */
export const CONTEXT_FORMAT = 1;

/** msgpack's most bytes of framing for one entry: a str8/str16 header and a uint64. */
const ENTRY_FRAMING_BYTES_MAX = 3 + 9;
/** The format byte and an array32 header. */
const CONTEXT_FRAMING_BYTES_MAX = 1 + 5;

/**
 * Entries at most: one per replica node that coordinated a write of the key and has not been
 * pruned (departed-actors.ts). A key's writers are its replicas, and fallbacks under a sloppy
 * quorum, so a few dozen is generous.
 */
const ENTRIES_MAX = 32;
/**
 * An actor's UTF-8 bytes at most: a node id (NODE_ID_BYTES_MAX) with room for a suffix that makes
 * it unique per data directory (departed-actors.ts, "Actors are never reused").
 */
const ACTOR_BYTES_MAX = NODE_ID_BYTES_MAX + 32;

export const CONTEXT_LIMITS = {
  entriesMax: ENTRIES_MAX,
  actorBytesMax: ACTOR_BYTES_MAX,
  /**
   * The encoded string's characters at most: base64url of the largest context within the limits
   * above, so every context a node hands out decodes again. Well under the node's 16 KiB of
   * request headers (a test holds the two together).
   */
  encodedLengthMax: Math.ceil(
    ((ENTRIES_MAX * (ACTOR_BYTES_MAX + ENTRY_FRAMING_BYTES_MAX) + CONTEXT_FRAMING_BYTES_MAX) * 4) /
      3,
  ),
} as const;

const contextPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The canonical header value of `context`: its non-zero entries, sorted by actor. */
export function encodeContext(context: VersionVector): string {
  const entries = context.filter(({ counter }) => counter !== 0);
  entries.sort((x, y) => (x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : 0));
  assert(entries.length <= CONTEXT_LIMITS.entriesMax, "a context within CONTEXT_LIMITS.entriesMax");
  const flat: (string | number)[] = [];
  for (let index = 0; index < entries.length; index++) {
    const { actor, counter } = entries[index] as { actor: Actor; counter: number };
    assert(validActor(actor), () => `a context actor within limits: ${JSON.stringify(actor)}`);
    assert(Number.isSafeInteger(counter) && counter > 0, "a context counter is a natural number");
    assert(index === 0 || entries[index - 1]?.actor !== actor, "a context names an actor once");
    flat.push(actor, counter);
  }
  const body = contextPackr.pack(flat);
  return Buffer.concat([Buffer.from([CONTEXT_FORMAT]), body]).toString("base64url");
}

function validActor(actor: unknown): actor is Actor {
  if (typeof actor !== "string" || actor.length === 0) return false;
  return Buffer.byteLength(actor, "utf8") <= CONTEXT_LIMITS.actorBytesMax;
}

function badContext(why: string): GrapevineError {
  return new GrapevineError("bad_context", `bad X-Grapevine-Context: ${why}`);
}

/** The context a header value names, sorted by actor; throws `bad_context` for anything else. */
export function decodeContext(header: string): VersionVector {
  const { encodedLengthMax } = CONTEXT_LIMITS;
  if (header.length === 0 || header.length > encodedLengthMax)
    throw badContext(`expected 1 to ${encodedLengthMax} characters`);
  if (!BASE64URL.test(header)) throw badContext("not base64url");
  const bytes = Buffer.from(header, "base64url");
  if (bytes[0] !== CONTEXT_FORMAT) throw badContext("not a context of this cluster's format");
  let flat: unknown;
  try {
    flat = contextPackr.unpack(bytes.subarray(1));
  } catch {
    throw badContext("truncated or not a context");
  }
  const context = entriesOf(flat);
  if (encodeContext(context) !== header) throw badContext("not in canonical form");
  return context;
}

/** The entries of a decoded flat array, checked one by one. */
function entriesOf(flat: unknown): VersionVector {
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw badContext("not a context");
  if (flat.length / 2 > CONTEXT_LIMITS.entriesMax)
    throw badContext(`more than ${CONTEXT_LIMITS.entriesMax} entries`);
  const context: { actor: Actor; counter: number }[] = [];
  for (let index = 0; index < flat.length; index += 2) {
    const actor: unknown = flat[index];
    const counter: unknown = flat[index + 1];
    if (!validActor(actor))
      throw badContext(`an actor is not 1 to ${CONTEXT_LIMITS.actorBytesMax} bytes of text`);
    if (typeof counter !== "number" || !Number.isSafeInteger(counter) || counter <= 0)
      throw badContext("a counter is not a positive whole number");
    const previous = context[context.length - 1];
    if (previous !== undefined && !(previous.actor < actor))
      throw badContext("actors are not sorted, or one is repeated");
    context.push({ actor, counter });
  }
  return context;
}
