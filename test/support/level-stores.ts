// A LevelDB store in a temporary data directory, reopened as often as a test asks (to see what
// survives a close), closed and removed however the test ends.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { openLevelStore, type LevelStore } from "../../src/storage/store.js";

export async function withLevelStores<T>(
  prefix: string,
  task: (open: () => Promise<LevelStore>) => Promise<T>,
): Promise<T> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `grapevine-${prefix}-`));
  const opened: LevelStore[] = [];
  try {
    return await task(async () => {
      const store = await openLevelStore({ dataDir, sync: false });
      opened.push(store);
      return store;
    });
  } finally {
    for (const store of opened) await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
