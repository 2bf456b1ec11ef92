import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { authHeaders, readTokenFile } from "../../../src/cli/token-client.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-token-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = `gv_${"a".repeat(16)}_${"b".repeat(64)}`;

function file(name: string, text: string): string {
  const full = path.join(dir, name);
  writeFileSync(full, text, { mode: 0o600 });
  return full;
}

describe("the CLI's token file", () => {
  it("reads a token, its newline left out", async () => {
    expect(await readTokenFile(file("good.token", `${TOKEN}\n`))).toBe(TOKEN);
  });

  it("refuses a file that holds no token, and one that is not there, in one line", async () => {
    await expect(readTokenFile(file("bad.token", "hunter2\n"))).rejects.toThrow(
      /does not hold a token/,
    );
    await expect(readTokenFile(path.join(dir, "missing"))).rejects.toThrow(/cannot read/);
  });

  it("marks every request as not a browser's cross-site one, with or without a token", () => {
    expect(authHeaders()).toEqual({ "x-grapevine-request": "grapevine-cli" });
  });
});
