// The X-Grapevine-Context codec (src/causality/context-codec.ts): every context within the limits
// survives a round trip, equal contexts encode equally whatever their order, and every other
// string — truncated, another format, unsorted, repeated, bad counters, too long, re-spelled — is
// refused with 400 `bad_context` before it can reach the DVVSet code.

import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  CONTEXT_FORMAT,
  CONTEXT_LIMITS,
  decodeContext,
  encodeContext,
} from "../../../src/causality/context-codec.js";
import { contextOf, updateDvvSet, type VersionVector } from "../../../src/causality/dvvset.js";
import { GrapevineError } from "../../../src/core/errors.js";
import { NODE_LIMITS } from "../../../src/node/node-settings.js";

const SEED = 16_003;
const RUNS = 300;

const packr = new Packr({ useRecords: false });

/** A header value made by hand: the format byte, then msgpack of `flat`. */
function forge(flat: unknown, format: number = CONTEXT_FORMAT): string {
  return Buffer.concat([Buffer.from([format]), packr.pack(flat)]).toString("base64url");
}

const actorArbitrary = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" });
const counterArbitrary = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

/** Contexts within the limits, in any order. */
const contextArbitrary: fc.Arbitrary<VersionVector> = fc.uniqueArray(
  fc.record({ actor: actorArbitrary, counter: counterArbitrary }),
  {
    maxLength: CONTEXT_LIMITS.entriesMax,
    selector: (entry) => entry.actor,
  },
);

const byActor = (context: VersionVector): VersionVector =>
  [...context].sort((x, y) => (x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : 0));

function refusal(header: string): GrapevineError {
  try {
    decodeContext(header);
  } catch (error) {
    expect(error).toBeInstanceOf(GrapevineError);
    expect((error as GrapevineError).code).toBe("bad_context");
    expect((error as GrapevineError).status).toBe(400);
    return error as GrapevineError;
  }
  throw new Error(`decoded ${JSON.stringify(header)}`);
}

describe("context codec", () => {
  it("round-trips every context within the limits, sorted by actor", () => {
    fc.assert(
      fc.property(contextArbitrary, (context) => {
        const header = encodeContext(context);
        expect(header).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(header.length).toBeLessThanOrEqual(CONTEXT_LIMITS.encodedLengthMax);
        expect(decodeContext(header)).toEqual(byActor(context));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("encodes equal contexts equally, whatever their order, and unequal ones differently", () => {
    const withShuffle = contextArbitrary.chain((context) =>
      fc.tuple(
        fc.constant(context),
        fc.shuffledSubarray([...context], {
          minLength: context.length,
          maxLength: context.length,
        }),
      ),
    );
    fc.assert(
      fc.property(withShuffle, ([context, shuffled]) => {
        expect(encodeContext(shuffled)).toBe(encodeContext(context));
        const [first, ...rest] = context;
        if (first !== undefined && Number.isSafeInteger(first.counter + 1)) {
          const bumped = [{ actor: first.actor, counter: first.counter + 1 }, ...rest];
          expect(encodeContext(bumped)).not.toBe(encodeContext(context));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("leaves out entries that saw no event, and encodes a clock's context", () => {
    expect(encodeContext([{ actor: "a", counter: 0 }])).toBe(encodeContext([]));
    expect(decodeContext(encodeContext([]))).toEqual([]);
    const clock = updateDvvSet(updateDvvSet({ entries: [] }, [], "n2", "x"), [], "n1", "y");
    expect(decodeContext(encodeContext(contextOf(clock)))).toEqual(contextOf(clock));
  });

  it("fits the largest context within the limits, and the limit within the node's headers", () => {
    const pad = CONTEXT_LIMITS.actorBytesMax - 3;
    const widest = Array.from({ length: CONTEXT_LIMITS.entriesMax }, (_, i) => ({
      // Two-byte characters, so the actor's bytes (the limit) are twice its length.
      actor: String(i).padStart(3, "0") + "é".repeat(Math.floor(pad / 2)) + "x".repeat(pad % 2),
      counter: Number.MAX_SAFE_INTEGER - i,
    }));
    for (const { actor } of widest)
      expect(Buffer.byteLength(actor)).toBe(CONTEXT_LIMITS.actorBytesMax);
    const header = encodeContext(widest);
    expect(header.length).toBeLessThanOrEqual(CONTEXT_LIMITS.encodedLengthMax);
    expect(decodeContext(header)).toEqual(widest);
    expect(CONTEXT_LIMITS.encodedLengthMax).toBeLessThan(NODE_LIMITS.httpHeaderBytesMax / 2);
  });

  it("refuses an empty, over-long or non-base64url string", () => {
    refusal("");
    refusal("A".repeat(CONTEXT_LIMITS.encodedLengthMax + 1));
    refusal(encodeContext([{ actor: "a", counter: 1 }]) + "=");
    refusal("AZA.");
    refusal("AZA AZA");
  });

  it("refuses every truncation of a valid context", () => {
    const header = encodeContext([
      { actor: "node-1", counter: 7 },
      { actor: "node-2", counter: 70_000 },
      { actor: "node-3", counter: 2 ** 40 },
    ]);
    for (let length = 1; length < header.length; length++) refusal(header.slice(0, length));
  });

  it("refuses another format byte, and bytes that are not msgpack of a context", () => {
    expect(refusal(forge(["a", 1], 2)).message).toMatch(/format/);
    refusal(forge(["a", 1], 0));
    refusal(Buffer.from('{"a":1}').toString("base64url"));
    refusal(Buffer.from([CONTEXT_FORMAT]).toString("base64url"));
    refusal(Buffer.from([CONTEXT_FORMAT, 0xc1]).toString("base64url"));
    refusal(forge({ a: 1 }));
    refusal(forge("a"));
    refusal(forge(["a", 1, "b"]));
    refusal(forge([["a", 1]]));
    refusal(forge([1, 1]));
    refusal(forge(["", 1]));
    refusal(forge(["a".repeat(CONTEXT_LIMITS.actorBytesMax + 1), 1]));
    expect(refusal(forge(["a", 1, "a", 2])).message).toMatch(/sorted|repeated/);
    expect(refusal(forge(["b", 1, "a", 2])).message).toMatch(/sorted|repeated/);
  });

  it("refuses zero, negative, fractional, unsafe and non-numeric counters", () => {
    for (const counter of [0, -1, 1.5, 2 ** 53, 2 ** 64, Number.NaN, "1", null, true])
      expect(refusal(forge(["a", counter])).message).toMatch(/counter/);
    refusal(forge(["a", BigInt(2) ** BigInt(60)]));
  });

  it("refuses more than entriesMax entries", () => {
    const flat = Array.from({ length: CONTEXT_LIMITS.entriesMax + 1 }, (_, i) => [
      `n${String(i).padStart(3, "0")}`,
      1,
    ]).flat();
    expect(refusal(forge(flat)).message).toMatch(/entries/);
  });

  it("refuses trailing bytes and another msgpack spelling of the same context", () => {
    const valid = Buffer.from(encodeContext([{ actor: "a", counter: 1 }]), "base64url");
    refusal(Buffer.concat([valid, Buffer.from([0x01])]).toString("base64url"));
    // [ "a", 1 ] with the counter spelt as a uint16 (0xcd 0x00 0x01) instead of a fixint.
    const respelt = Buffer.from([CONTEXT_FORMAT, 0x92, 0xa1, 0x61, 0xcd, 0x00, 0x01]);
    expect(refusal(respelt.toString("base64url")).message).toMatch(/canonical/);
  });

  it("refuses random strings and random edits of valid contexts, or decodes them canonically", () => {
    fc.assert(
      fc.property(contextArbitrary, fc.nat(), fc.nat({ max: 255 }), (context, at, byte) => {
        const bytes = Buffer.from(encodeContext(context), "base64url");
        bytes[at % bytes.length] = byte;
        const header = bytes.toString("base64url");
        let decoded: VersionVector | null = null;
        try {
          decoded = decodeContext(header);
        } catch (error) {
          expect((error as GrapevineError).code).toBe("bad_context");
        }
        if (decoded !== null) expect(encodeContext(decoded)).toBe(header);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
