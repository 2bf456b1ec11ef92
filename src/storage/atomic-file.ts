// storage/atomic-file.ts — small JSON state files beside the database (node.json, ring.json,
// peers.json): written so that a crash leaves either the old or the new content, never a torn file,
// and read back as parsed JSON for their owners to check.

import { open, readFile, rename } from "node:fs/promises";
import path from "node:path";

/** A state file whose text is not JSON; its owner decides what that means (refuse to start, or ignore it). */
export class StateFileSyntaxError extends Error {
  override readonly name = "StateFileSyntaxError";
}

/**
 * The state file's parsed JSON, or undefined when it does not exist (JSON never parses to
 * undefined). Throws StateFileSyntaxError for text that is not JSON, and any other read error as is.
 */
export async function readStateFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new StateFileSyntaxError(`${file} is not valid JSON`);
  }
}

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
