import { describe, expect, it } from "vitest";
import {
  formatToken,
  hashSecret,
  isTokenId,
  mintToken,
  parseToken,
  TOKEN_LIMITS,
} from "../../../src/security/tokens.js";

const BYTES = TOKEN_LIMITS.idBytes + TOKEN_LIMITS.secretBytes;

function bytes(seed: number): Buffer {
  return Buffer.from(Array.from({ length: BYTES }, (_, i) => (seed * 31 + i * 7) % 256));
}

describe("the token format gv_<id>_<secret>", () => {
  it("mints a token whose text parses back to its id and secret", () => {
    const minted = mintToken(bytes(1));
    expect(minted.text).toMatch(/^gv_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(parseToken(minted.text)).toEqual({ id: minted.id, secret: minted.secret });
    expect(formatToken(minted)).toBe(minted.text);
    expect(isTokenId(minted.id)).toBe(true);
  });

  it("takes the id and the secret from different random bytes", () => {
    const minted = mintToken(bytes(2));
    expect(minted.id).toBe(bytes(2).subarray(0, TOKEN_LIMITS.idBytes).toString("hex"));
    expect(minted.secret).not.toContain(minted.id);
    expect(mintToken(bytes(3)).text).not.toBe(minted.text);
  });

  it("refuses too few random bytes", () => {
    expect(() => mintToken(Buffer.alloc(BYTES - 1))).toThrow(RangeError);
  });

  it("ignores surrounding white space (a token file's newline) and nothing else", () => {
    const { text, id, secret } = mintToken(bytes(4));
    expect(parseToken(`  ${text}\n`)).toEqual({ id, secret });
    for (const bad of [
      "",
      text.slice(1),
      text.toUpperCase(),
      `${text}0`,
      text.replace("gv_", "gh_"),
      `gv_${id}_${secret.slice(0, 63)}g`,
      `gv_${id}${secret}`,
      `Bearer ${text}`,
    ])
      expect(parseToken(bad), bad).toBeNull();
  });

  it("hashes a secret with SHA-256, hex", () => {
    expect(hashSecret("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});
