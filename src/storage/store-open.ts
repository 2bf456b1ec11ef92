// storage/store-open.ts — opening the database: refuse a layout this build does not know, and
// restore the statistics and segment hashes (recounting or rebuilding them once when a database
// lacks them) before any request is served.

import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Level } from "level";
import { LevelStore } from "./level-store.js";
import { readSegments, rebuildSegments } from "./segment-log.js";
import type { LevelStoreOptions, StoreDeps } from "./store-limits.js";
import { checkFormat, readTotals, recountTotals } from "./store-meta.js";
import type { Database } from "./store-state.js";

/** Opens (creating if needed) the store in `<dataDir>/db`, or the one deps.openDatabase gives. */
export async function openLevelStore(
  options: LevelStoreOptions,
  deps: StoreDeps = {},
): Promise<LevelStore> {
  const location = path.join(options.dataDir, "db");
  let db: Database;
  if (deps.openDatabase === undefined) {
    await mkdir(options.dataDir, { recursive: true });
    db = new Level<Buffer, Buffer>(location, { keyEncoding: "buffer", valueEncoding: "buffer" });
  } else {
    db = deps.openDatabase(location);
  }
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    throw new Error(
      `cannot open the database in ${location}: ${(error as Error).message}${cause ? ` (${cause.message})` : ""}`,
      { cause: error },
    );
  }
  try {
    await checkFormat(db);
    const totals = (await readTotals(db)) ?? (await recountTotals(db));
    const segments = (await readSegments(db)) ?? (await rebuildSegments(db));
    return new LevelStore(db, options, deps, totals, segments);
  } catch (error) {
    await db.close();
    throw error;
  }
}
