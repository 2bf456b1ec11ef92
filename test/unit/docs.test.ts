// docs/architecture.md is the newcomers' map of src/. It stays true because this test reads it:
// every `src/…` file it names exists, and its layer table gives each folder the height the import
// test enforces (test/support/layers.ts).

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HEIGHT } from "../support/layers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAP = readFileSync(path.join(ROOT, "docs", "architecture.md"), "utf8");

describe("docs/architecture.md", () => {
  it("names only files that exist", () => {
    const named = [
      ...new Set([...MAP.matchAll(/`(src\/[\w/.-]+\.ts)`/g)].map((match) => match[1] as string)),
    ];
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((file) => !existsSync(path.join(ROOT, file)))).toEqual([]);
  });

  it("gives every folder of src/ the height the import test enforces", () => {
    const documented: Record<string, number> = {};
    for (const match of MAP.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)) {
      for (const folder of (match[2] as string).matchAll(/`(\w+)\/`/g))
        documented[folder[1] as string] = Number(match[1]);
    }
    expect(documented).toEqual(HEIGHT);
  });
});
