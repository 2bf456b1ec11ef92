import { describe, it, expect } from "vitest";
import {
  TOKEN_MAX,
  TOKEN_SPACE,
  compareTokens,
  tokenFromString,
  tokenOf,
  tokenToString,
} from "../../../src/ring/partitioner.js";

describe("tokenToString / tokenFromString", () => {
  it("writes exactly 16 lowercase hex digits, zero-padded", () => {
    expect(tokenToString(0n)).toBe("0000000000000000");
    expect(tokenToString(1n)).toBe("0000000000000001");
    expect(tokenToString(0xabcdefn)).toBe("0000000000abcdef");
    expect(tokenToString(TOKEN_MAX)).toBe("ffffffffffffffff");
  });

  it("round-trips every token, including the ends of the ring", () => {
    const samples = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, TOKEN_MAX - 1n, TOKEN_MAX];
    for (let i = 0; i < 1000; i++) samples.push(tokenOf(`round-trip:${i}`));
    for (const token of samples) {
      const text = tokenToString(token);
      expect(text).toMatch(/^[0-9a-f]{16}$/);
      expect(tokenFromString(text)).toBe(token);
    }
  });

  it("keeps text order the same as numeric order", () => {
    const tokens = Array.from({ length: 200 }, (_, i) => tokenOf(`order:${i}`));
    const byNumber = [...tokens].sort(compareTokens).map(tokenToString);
    const byText = tokens.map(tokenToString).sort();
    expect(byText).toEqual(byNumber);
  });

  it("rejects anything but exactly 16 lowercase hex digits", () => {
    const bad = [
      "",
      "0",
      "000000000000000", // 15 digits
      "00000000000000000", // 17 digits
      "ABCDEF0123456789", // upper case
      "0x00000000000001",
      "000000000000000g",
      " 000000000000001",
      "000000000000001 ",
      "-000000000000001",
      "00000000000000\n1",
      "０００００００００００００００１", // full-width digits
    ];
    for (const text of bad) {
      expect(() => tokenFromString(text), JSON.stringify(text)).toThrow(Error);
    }
  });

  it("refuses to write a bigint outside the 64-bit ring", () => {
    expect(() => tokenToString(-1n)).toThrow();
    expect(() => tokenToString(TOKEN_SPACE)).toThrow();
  });
});

describe("tokenOf", () => {
  it("is xxHash64 with seed 0 (reference vectors)", () => {
    // Published XXH64 test vectors: changing the hash or the seed would move every stored key.
    expect(tokenToString(tokenOf(""))).toBe("ef46db3751d8e999");
    expect(tokenToString(tokenOf("a"))).toBe("d24ec4f1a98c6e5b");
    expect(tokenToString(tokenOf("abc"))).toBe("44bc2cf5ad770999");
  });

  it("is deterministic", () => {
    for (let i = 0; i < 100; i++) {
      expect(tokenOf(`user:${i}`)).toBe(tokenOf(`user:${i}`));
    }
    expect(tokenOf("user:1")).not.toBe(tokenOf("user:2"));
  });

  it("hashes a string's UTF-8 bytes, so a string and its encoding share a token", () => {
    const encoder = new TextEncoder();
    for (const key of ["plain", "é", "日本語のキー", "emoji 🍇 key", "a\u0000b"]) {
      expect(tokenOf(key)).toBe(tokenOf(encoder.encode(key)));
    }
    // "é" as one code point and as e + combining accent are different UTF-8 bytes, so different
    // keys.
    expect(tokenOf("\u00e9")).not.toBe(tokenOf("e\u0301"));
  });

  it("returns a token inside the ring", () => {
    for (let i = 0; i < 1000; i++) {
      const token = tokenOf(`bounds:${i}`);
      expect(token >= 0n && token <= TOKEN_MAX).toBe(true);
    }
  });

  it("spreads 100k sequential keys evenly: each of 64 buckets (top 6 bits) within ±10% of the mean", () => {
    // The input is fixed, so this is not flaky. The bound: the mean is 1562.5 keys per bucket and a
    // uniform hash has a standard deviation of about 39, so ±10% (156) is four standard deviations.
    const keyCount = 100_000;
    const bucketCount = 64;
    const counts = new Array<number>(bucketCount).fill(0);
    for (let i = 0; i < keyCount; i++) {
      const bucket = Number(tokenOf(`user:${i}`) >> 58n);
      counts[bucket] = (counts[bucket] ?? 0) + 1;
    }
    const mean = keyCount / bucketCount;
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual(mean * 0.9);
      expect(count).toBeLessThanOrEqual(mean * 1.1);
    }
  });
});
