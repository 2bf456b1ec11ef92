// ARCHITECTURE §5: the one table of error codes (core/errors.ts) and the README's list of them must
// agree both ways, code by code and status by status, so users never read about an error the node
// does not send, nor get one the README does not list (as fastify's test of its errors and docs).
// Each code also says what it means, in the table and in the README.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, ERROR_TABLE } from "../../../src/core/errors.js";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

/** The rows of README's error table: `| status | \`code\` | when |`. */
const rows = [...readme.matchAll(/^\|\s*(\d{3})\s*\|\s*`([^`]*)`\s*\|([^\n]*)\|\s*$/gm)].map(
  (match) => ({
    status: Number(match[1]),
    code: match[2] as string,
    when: (match[3] as string).trim(),
  }),
);

describe("README error list", () => {
  it("has a row for every code of the error table, with the table's status", () => {
    for (const code of ERROR_CODES) {
      const documented = rows.filter((row) => row.code === code);
      expect(documented, `README rows for ${code}`).toHaveLength(1);
      expect(documented[0]?.status, `README status of ${code}`).toBe(ERROR_TABLE[code].status);
    }
  });

  it("lists no code that the error table does not have", () => {
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows)
      expect(Object.hasOwn(ERROR_TABLE, row.code), `README row ${row.code}`).toBe(true);
  });

  it("says what each code means, in the table and in the README", () => {
    for (const code of ERROR_CODES) {
      const entry = ERROR_TABLE[code];
      expect(entry.meaning.trim(), `meaning of ${code}`).not.toBe("");
      expect(entry.message.trim(), `default message of ${code}`).not.toBe("");
    }
    for (const row of rows) expect(row.when, `README's "when" of ${row.code}`).not.toBe("");
  });
});
