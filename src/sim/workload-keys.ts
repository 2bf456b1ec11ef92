// sim/workload-keys.ts — the key sets a simulated workload draws from (workload.ts).
//
// Two sets: a few hot keys, so concurrent writes collide and last-write-wins has something to
// resolve, and many cold ones, so ranges, Merkle trees and streaming carry real data. A share of
// each set is replaced by awkward keys, drawn from the seed: one byte, exactly the largest key
// (in ASCII, and in mixed 2-, 3- and 4-byte UTF-8), spaces, non-Latin scripts and emoji, URL
// syntax that must be percent-encoded, dot segments. Every key is valid by SPEC §2 — 1 to 1024
// bytes of well-formed UTF-8 — and no control characters, so any client can send it. Pure.

import { assert } from "../core/assert.js";
import { pickOne, randomInt, type Random } from "../core/random.js";
import { isValidReplicaKey } from "../net/replica-protocol.js";

/** SPEC §2: a key is 1 to 1024 bytes of UTF-8 (the store's LAYOUT_LIMITS.keyBytesMax). */
export const KEY_BYTES_MAX = 1024;

/** Visible ASCII, the one-byte characters an awkward key is made of. */
const ASCII_FIRST = 0x21;
const ASCII_COUNT = 0x7f - ASCII_FIRST;
/** Multi-byte characters for awkward keys: Latin, Cyrillic, CJK, emoji (2, 2, 3 and 4 bytes). */
const WIDE_CHARACTERS = ["é", "ü", "ж", "ß", "日", "本", "語", "🍇", "🦀", "€", "\u00a0", "ﬁ"];
/** Pieces that need percent-encoding or confuse a URL parser. */
const URL_PIECES = ["/", "?", "#", "%", "%2F", "+", "&", "=", ";", "\\", "%zz", " "];

/** Draws of one awkward kind before its slot falls back to a regular name. */
const AWKWARD_DRAWS_MAX = 8;

const byteLength = (text: string): number => Buffer.byteLength(text, "utf8");

function asciiChar(random: Random): string {
  return String.fromCharCode(ASCII_FIRST + randomInt(random, ASCII_COUNT));
}

/** Exactly `bytes` bytes: wide characters while they fit, then ASCII. */
function fillTo(random: Random, bytes: number, wide: boolean): string {
  let key = "";
  while (byteLength(key) < bytes) {
    const room = bytes - byteLength(key);
    key += wide && room >= 4 ? (pickOne(random, WIDE_CHARACTERS) as string) : asciiChar(random);
  }
  return key;
}

function piecesKey(random: Random, pieces: readonly string[], count: number): string {
  let key = "";
  for (let i = 0; i < count; i++) key += `${pickOne(random, pieces) as string}${asciiChar(random)}`;
  return key;
}

/** The kinds of awkward key, each drawn fresh from the seed. */
const AWKWARD: readonly ((random: Random) => string)[] = [
  (random) => asciiChar(random),
  (random) => fillTo(random, KEY_BYTES_MAX, false),
  (random) => fillTo(random, KEY_BYTES_MAX, true),
  (random) => ` ${piecesKey(random, [" ", "  "], 1 + randomInt(random, 4))} `,
  (random) => piecesKey(random, WIDE_CHARACTERS, 1 + randomInt(random, 8)),
  (random) => piecesKey(random, URL_PIECES, 1 + randomInt(random, 6)),
  (random) => pickOne(random, [".", "..", "./", "../x"]) as string,
];

/** Whether `key` is a valid key (SPEC §2, as a replica checks it) with no control character. */
export function isValidKey(key: string): boolean {
  return isValidReplicaKey(key) && !/\p{Cc}/u.test(key);
}

/** Regular names look like `hot:12`; an awkward key never does, so the two never clash. */
const REGULAR_NAME = /^[a-z]+:\d+$/;

function drawAwkward(random: Random, kind: number, taken: ReadonlySet<string>): string | undefined {
  const draw = AWKWARD[kind % AWKWARD.length] as (random: Random) => string;
  for (let tries = 0; tries < AWKWARD_DRAWS_MAX; tries++) {
    const key = draw(random);
    if (!taken.has(key) && !REGULAR_NAME.test(key)) return key;
  }
  return undefined;
}

/**
 * `count` distinct keys named `<prefix><index>`, with about `awkwardShare` of them, spread over
 * the set, replaced by awkward keys of each kind in turn. `taken` holds keys already used by
 * another set, so the sets never share a key; the new keys are added to it.
 */
export function buildKeySet(
  random: Random,
  prefix: string,
  count: number,
  awkwardShare: number,
  taken: Set<string>,
): string[] {
  assert(Number.isInteger(count) && count >= 1, `a key set holds at least one key, not ${count}`);
  assert(/^[a-z]+:$/.test(prefix), `a key set's prefix is lower-case letters and ':'`);
  const awkward = Math.min(count, Math.round(count * awkwardShare));
  const keys: string[] = [];
  let placed = 0;
  for (let index = 0; index < count; index++) {
    const due = placed < awkward && index >= Math.floor((placed * count) / awkward);
    const drawn = due ? drawAwkward(random, placed, taken) : undefined;
    if (due) placed++;
    const key = drawn ?? `${prefix}${index}`;
    assert(isValidKey(key) && !taken.has(key), () => `workload key ${JSON.stringify(key)} is bad`);
    taken.add(key);
    keys.push(key);
  }
  return keys;
}
