import { describe, expect, it } from "vitest";
import {
  bearerTokenOf,
  decodeTokenRecord,
  encodeTokenRecord,
  judgeToken,
  tokenKey,
  type TokenRecord,
} from "../../../src/security/token-book.js";
import { hashSecret, mintToken, TOKEN_LIMITS } from "../../../src/security/tokens.js";

const NOW = 1_800_000_000_000;
const minted = mintToken(Buffer.alloc(TOKEN_LIMITS.idBytes + TOKEN_LIMITS.secretBytes, 7));
const record: TokenRecord = {
  id: minted.id,
  role: "writer",
  hash: hashSecret(minted.secret),
  createdAtMs: NOW - 1000,
  expiresAtMs: NOW + 1000,
  revoked: false,
};
const only = (r: TokenRecord | null) => (id: string) => (id === r?.id ? r : null);

describe("judging a presented token", () => {
  it("admits the token with its record's role", () => {
    expect(judgeToken(minted.text, only(record), NOW)).toEqual({
      admitted: true,
      id: minted.id,
      role: "writer",
    });
  });

  it("refuses a malformed text, an unknown id and a wrong secret", () => {
    expect(judgeToken("gv_nope", only(record), NOW)).toEqual({
      admitted: false,
      reason: "malformed",
    });
    expect(judgeToken(minted.text, only(null), NOW)).toMatchObject({ reason: "unknown" });
    const wrong = `gv_${minted.id}_${"0".repeat(64)}`;
    expect(judgeToken(wrong, only(record), NOW)).toMatchObject({
      admitted: false,
      reason: "wrong_secret",
      id: minted.id,
    });
  });

  it("refuses a revoked token, and an expired one from its expiry on", () => {
    const revoked = { ...record, revoked: true };
    expect(judgeToken(minted.text, only(revoked), NOW)).toMatchObject({ reason: "revoked" });
    expect(judgeToken(minted.text, only(record), record.expiresAtMs - 1).admitted).toBe(true);
    expect(judgeToken(minted.text, only(record), record.expiresAtMs)).toMatchObject({
      reason: "expired",
    });
  });

  it("never sees the secret stored: the record holds its hash only", () => {
    const text = encodeTokenRecord(record);
    expect(text).not.toContain(minted.secret);
    expect(decodeTokenRecord(minted.id, text)).toEqual(record);
    expect(tokenKey(minted.id)).toBe(`token/${minted.id}`);
  });

  it("reads nothing from a stored text that is not a record", () => {
    const good = JSON.parse(encodeTokenRecord(record)) as Record<string, unknown>;
    for (const bad of [
      "not json",
      "null",
      JSON.stringify({ ...good, role: "root" }),
      JSON.stringify({ ...good, hash: "abc" }),
      JSON.stringify({ ...good, expiresAtMs: -1 }),
      JSON.stringify({ ...good, revoked: "no" }),
    ])
      expect(decodeTokenRecord(minted.id, bad), bad).toBeNull();
    expect(decodeTokenRecord("XYZ", encodeTokenRecord(record))).toBeNull();
  });

  it("reads a bearer token from an Authorization header, and nothing else", () => {
    expect(bearerTokenOf(`Bearer ${minted.text}`)).toBe(minted.text);
    expect(bearerTokenOf(`bearer   ${minted.text} `)).toBe(minted.text);
    expect(bearerTokenOf(`Basic ${minted.text}`)).toBeNull();
    expect(bearerTokenOf(undefined)).toBeNull();
    expect(bearerTokenOf(["Bearer a", "Bearer b"])).toBeNull();
  });
});
