import { describe, expect, it } from "vitest";
import {
  decodeListToken,
  encodeListToken,
  LIST_TOKEN_LIMITS,
  positionAfterKey,
} from "../../../src/api/list-token.js";
import { tokenOf } from "../../../src/ring/partitioner.js";
import { GrapevineError } from "../../../src/core/errors.js";

function refusal(bucket: string, token: string): GrapevineError {
  try {
    decodeListToken(bucket, token);
  } catch (error) {
    if (error instanceof GrapevineError) return error;
    throw error;
  }
  throw new Error(`accepted ${token}`);
}

describe("list continuation tokens", () => {
  it("round-trips any key of the bucket, base64url only", () => {
    for (const key of ["k", "ключ/🙂 with spaces", "%00", "x".repeat(1024), '"quoted"\\']) {
      const token = encodeListToken("photos", key);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(token.length).toBeLessThanOrEqual(LIST_TOKEN_LIMITS.tokenLengthMax);
      expect(decodeListToken("photos", token)).toBe(key);
    }
    const worst = encodeListToken("b".repeat(64), "\u0001".repeat(1024));
    expect(worst.length).toBeLessThanOrEqual(LIST_TOKEN_LIMITS.tokenLengthMax);
  });

  it("refuses another bucket's token, garbage, other shapes and over-long tokens with bad_request", () => {
    const other = encodeListToken("videos", "k");
    const json = (value: unknown): string =>
      Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
    const cases: [string, RegExp][] = [
      [other, /another bucket/],
      ["", /characters/],
      ["a".repeat(LIST_TOKEN_LIMITS.tokenLengthMax + 1), /characters/],
      ["not base64!", /base64url/],
      ["AAAA", /not a token/],
      [json({ k: "x" }), /not a token/],
      [json([2, "photos", "k"]), /not a token/],
      [json([1, "photos", 5]), /not a token/],
      [json([1, "photos", ""]), /1 to 1024/],
      [json([1, "photos", "x".repeat(1025)]), /1 to 1024/],
    ];
    for (const [token, message] of cases) {
      const error = refusal("photos", token);
      expect(error.code).toBe("bad_request");
      expect(error.status).toBe(400);
      expect(error.message).toMatch(message);
    }
  });

  it("resumes at the key's place in token order: the hash of bucket and key", () => {
    expect(positionAfterKey("default", "k")).toEqual({ token: tokenOf("k"), storedKey: "k" });
    const bucketed = positionAfterKey("photos", "k");
    expect(bucketed.storedKey).toBe("\u0000photos\u0000k");
    expect(bucketed.token).toBe(tokenOf("\u0000photos\u0000k"));
  });
});
