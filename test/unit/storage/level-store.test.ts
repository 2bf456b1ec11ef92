import { describe, it, expect } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openLevelStore, type Store } from "../../../src/storage/store.js";
import { waitFor } from "../../support/wait-for.js";
import { describeStoreConformance, type StoreHarness } from "./store-conformance.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..", "..");

async function temporaryDataDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "grapevine-store-"));
}

describeStoreConformance("LevelStore", async (): Promise<StoreHarness> => {
  const dataDir = await temporaryDataDir();
  const opened: Store[] = [];
  return {
    async open(options) {
      const store = await openLevelStore(
        { dataDir, sync: options.sync ?? false, tombstoneGraceUs: options.tombstoneGraceUs, limits: options.limits },
        { tokenOf: options.tokenOf },
      );
      opened.push(store);
      return store;
    },
    async dispose() {
      for (const store of opened) await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe("LevelStore on disk", () => {
  it("puts its database in <dataDir>/db and refuses a second open of the same directory", async () => {
    const dataDir = await temporaryDataDir();
    try {
      const store = await openLevelStore({ dataDir: path.join(dataDir, "nested", "node") , sync: false });
      await expect(openLevelStore({ dataDir: path.join(dataDir, "nested", "node"), sync: false })).rejects.toThrow(
        /cannot open the database in .*nested\/node\/db/,
      );
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  for (const sync of ["off", "on"] as const) {
    it(`keeps every acknowledged write through a SIGKILL of its process (sync ${sync})`, async () => {
      const dataDir = await temporaryDataDir();
      try {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(HERE, "sigkill-writer.ts"), dataDir, sync], {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        });
        let lastAcked = -1;
        let output = "";
        let errors = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          for (const match of chunk.matchAll(/acked (\d+)/g)) lastAcked = Math.max(lastAcked, Number(match[1]));
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (errors += chunk));
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
        await waitFor(() => lastAcked >= 30 || child.exitCode !== null, { timeoutMs: 30_000, what: "30 acknowledged waves" });
        expect(child.exitCode, errors).toBeNull();
        child.kill("SIGKILL");
        expect(await exited).toBe("SIGKILL");
        const acked = lastAcked; // nothing is read after the kill

        const store = await openLevelStore({ dataDir, sync: false });
        try {
          for (let wave = 0; wave <= acked; wave++) {
            for (let i = 0; i < 10; i++) {
              const record = await store.get(`wave-${wave}-${i}`);
              expect(Buffer.from(record?.value ?? []).toString(), `wave ${wave} write ${i} (output: ${output.slice(-200)})`).toBe(
                `value-${wave}-${i}`,
              );
            }
          }
          expect(store.load().keys).toBeGreaterThanOrEqual((acked + 1) * 10);
        } finally {
          await store.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});
