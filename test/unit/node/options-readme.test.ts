import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NODE_OPTION_NAMES, type NodeOptionName } from "../../../src/node/config.js";
import { declarationOf, defaultText } from "../../../src/node/options.js";

/**
 * The rows of the README's "Node options" table: the flags its first cell names, and its default
 * cell.
 */
function readmeRows(): {
  readonly flags: readonly string[];
  readonly aliases: readonly string[];
  readonly defaultCell: string;
}[] {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("### Node options");
  expect(start, "the README has a Node options section").toBeGreaterThanOrEqual(0);
  const section = readme.slice(start).split(/\n(?=##)/)[0] ?? "";
  const rows = section.split("\n").filter((line) => line.startsWith("| `--"));
  return rows.map((line) => {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const first = cells[1] ?? "";
    const aliasPart = /\((.*)\)/.exec(first)?.[1] ?? "";
    const flagPart = first.replace(/\(.*\)/, "");
    const names = (text: string): string[] =>
      [...text.matchAll(/`--([a-z0-9-]+)/g)].map((match) => match[1] ?? "");
    return {
      flags: names(flagPart),
      aliases: names(aliasPart),
      defaultCell: (cells[2] ?? "").replace(/`/g, ""),
    };
  });
}

describe("README node options table", () => {
  const rows = readmeRows();

  it("documents every declared option once, with its declared default and aliases", () => {
    for (const name of NODE_OPTION_NAMES) {
      const found = rows.filter((row) => row.flags.includes(name));
      expect(found, `--${name} has one row`).toHaveLength(1);
      const declaration = declarationOf(name);
      expect(found[0]?.defaultCell, `--${name}'s default`).toBe(defaultText(declaration));
      for (const alias of declaration.aliases ?? [])
        expect(found[0]?.aliases, `--${name}`).toContain(alias);
    }
  });

  it("has no row or alias for an option that is not declared", () => {
    const declared = new Set<string>(NODE_OPTION_NAMES);
    for (const row of rows) {
      expect(row.flags.length, "a row names at least one flag").toBeGreaterThan(0);
      for (const flag of row.flags) expect(declared.has(flag), `--${flag} is declared`).toBe(true);
      const aliases = new Set(
        row.flags.flatMap((flag) => declarationOf(flag as NodeOptionName).aliases ?? []),
      );
      for (const alias of row.aliases)
        expect(aliases.has(alias), `--${alias} is an alias of its row`).toBe(true);
    }
  });
});
