// storage/atomic-file.ts — small state files beside the database (node.json, ring.json) written so
// that a crash leaves either the old or the new content, never a torn file.

import { open, rename } from "node:fs/promises";
import path from "node:path";

/** Write-temp, fsync, rename, fsync-dir: the file is either the old or the new content after a crash. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  const handle = await open(temporary, "w", 0o644);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const directory = await open(path.dirname(file), "r");
  try {
    await directory.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await directory.close();
  }
}
