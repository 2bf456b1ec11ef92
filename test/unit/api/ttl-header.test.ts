// X-Grapevine-TTL (api/ttl-header.ts): what a PUT may send, what wins over the bucket's ttlSeconds,
// and what a GET answers.

import { describe, expect, it } from "vitest";
import { GrapevineError } from "../../../src/core/errors.js";
import { parseTtlHeader, ttlHeaderOf, writeTtlSeconds } from "../../../src/api/ttl-header.js";
import { TTL_LIMITS } from "../../../src/storage/expiry.js";

function refusal(header: string | string[]): { code: string; details: object } | null {
  try {
    parseTtlHeader(header);
    return null;
  } catch (error) {
    if (!(error instanceof GrapevineError)) throw error;
    return { code: error.code, details: error.details };
  }
}

describe("X-Grapevine-TTL", () => {
  it("takes a whole number of seconds from 0 to the maximum, spaces around it ignored", () => {
    expect(parseTtlHeader(undefined)).toBeUndefined();
    expect(parseTtlHeader("0")).toBe(0);
    expect(parseTtlHeader("2")).toBe(2);
    expect(parseTtlHeader(" 3600 ")).toBe(3600);
    expect(parseTtlHeader("007")).toBe(7);
    expect(parseTtlHeader(String(TTL_LIMITS.ttlSecondsMax))).toBe(TTL_LIMITS.ttlSecondsMax);
  });

  it("refuses anything else with 400 bad_ttl naming the maximum", () => {
    const bad = [
      "",
      "-1",
      "+5",
      "1.5",
      "1e3",
      "10s",
      "0x10",
      "one",
      "5, 6",
      String(TTL_LIMITS.ttlSecondsMax + 1),
      "99999999999999999999",
      ["5", "6"],
    ];
    for (const header of bad)
      expect(refusal(header), JSON.stringify(header)).toEqual({
        code: "bad_ttl",
        details: { secondsMax: TTL_LIMITS.ttlSecondsMax },
      });
  });

  it("lets the header win over the bucket's ttlSeconds, 0 meaning never, absent the bucket's", () => {
    expect(writeTtlSeconds(undefined, null)).toBeUndefined();
    expect(writeTtlSeconds(undefined, 60)).toBe(60);
    expect(writeTtlSeconds("5", 60)).toBe(5);
    expect(writeTtlSeconds("5", null)).toBe(5);
    expect(writeTtlSeconds("0", 60)).toBeUndefined();
    expect(() => writeTtlSeconds("-5", 60)).toThrow(GrapevineError);
  });

  it("answers a read with the seconds left, and nothing for a value without a TTL", () => {
    const base = {
      value: Buffer.from("v"),
      contentType: "text/plain",
      timestampUs: 0,
      writer: "n1",
      tombstone: false,
    };
    expect(ttlHeaderOf({ ...base, expiresAtUs: 2_000_000 }, 500_000)).toBe("2");
    expect(ttlHeaderOf(base, 500_000)).toBeUndefined();
  });
});
