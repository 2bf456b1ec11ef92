// storage/atomic-file.ts — the node's state files (state-files.ts) in its data dir: written so
// that a crash leaves either the old or the new content, never a torn file, and read back as
// parsed JSON for their owners to check.

import { mkdir, open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { parseStateFile, type StateFiles } from "./state-files.js";

/**
 * The state file's parsed JSON, or undefined when it does not exist (JSON never parses to
 * undefined). Throws StateFileSyntaxError for text that is not JSON, and any other read error as
 * is.
 */
export async function readStateFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parseStateFile(text, file);
}

/**
 * Write-temp, fsync, rename, fsync-dir: the file is either the old or the new content after a
 * crash. A `mode` given is set on the file whatever the umask (a private key's 0600), before any
 * content is in it.
 */
export async function writeFileAtomic(file: string, content: string, mode?: number): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  const handle = await open(temporary, "w", mode ?? 0o644);
  try {
    if (mode !== undefined) await handle.chmod(mode);
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

/** The state files of a data dir, created (with the dir) at their first write. */
export function dataDirStateFiles(dataDir: string): StateFiles {
  return {
    read: (name) => readStateFile(path.join(dataDir, name)),
    async write(name, content) {
      await mkdir(dataDir, { recursive: true });
      await writeFileAtomic(path.join(dataDir, name), content);
    },
    describe: (name) => path.join(dataDir, name),
  };
}
