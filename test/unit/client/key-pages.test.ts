import { describe, expect, it } from "vitest";
import { keyPagePath, parseKeyPage } from "../../../src/client/key-pages.js";
import { GrapevineError } from "../../../src/core/errors.js";

function thrown(body: string): GrapevineError {
  try {
    parseKeyPage(body);
  } catch (error) {
    if (error instanceof GrapevineError) return error;
    throw error;
  }
  throw new Error("parsed");
}

describe("key listing pages in the client library", () => {
  it("asks for a page of a bucket, after a token, at a level", () => {
    expect(keyPagePath("photos", { pageKeys: 10, after: null, r: undefined })).toBe(
      "/buckets/photos/keys?limit=10",
    );
    expect(keyPagePath("a.b", { pageKeys: 5, after: "WzEs-_", r: "quorum" })).toBe(
      "/buckets/a.b/keys?limit=5&after=WzEs-_&r=quorum",
    );
  });

  it("reads the keys and the next token, or the end", () => {
    const keys = ['{"key":"a"}', '{"key":"line\\nbreak"}'];
    expect(parseKeyPage(`${keys.join("\n")}\n{"next":"T"}\n`)).toEqual({
      keys: ["a", "line\nbreak"],
      next: "T",
    });
    expect(parseKeyPage('{"done":true}\n')).toEqual({ keys: [], next: null });
  });

  it("throws a page's error line as its error, and a cut or strange page as malformed", () => {
    const failed = thrown('{"key":"a"}\n{"error":"unavailable","message":"replica lost"}\n');
    expect([failed.code, failed.message]).toEqual(["unavailable", "replica lost"]);
    for (const body of ['{"key":"a"}\n', "not json\n", "[1]\n", '{"other":1}\n', ""]) {
      expect(thrown(body).message).toMatch(/malformed key page/);
    }
  });
});
