// ARCHITECTURE §5: the one table of error codes and the README's list of them must agree, code by code
// and status by status, so users never read about an error the node does not send (or the reverse).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_TABLE } from "../../../src/api/errors.js";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("README error list", () => {
  it("lists exactly the codes of the error table, each with its status", () => {
    const rows = [...readme.matchAll(/^\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|/gm)].map((match) => ({ status: Number(match[1]), code: match[2] as string }));
    const documented = Object.fromEntries(rows.map((row) => [row.code, row.status]));
    const table = Object.fromEntries(Object.entries(ERROR_TABLE).map(([code, entry]) => [code, entry.status]));
    expect(documented).toEqual(table);
  });
});
