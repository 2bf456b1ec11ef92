// What a real node leaves on disk, read back by the cluster tests and benches that restart it: the
// members it saved (peers.json, topology/known-peers.ts) and the ring-settle line of its log
// (node/tick-loop.ts).

import { readFile } from "node:fs/promises";
import path from "node:path";
import { KNOWN_PEERS_FILE } from "../../src/topology/known-peers.js";

/** The parts of peers.json these readers look at. */
export interface SavedPeersFile {
  readonly format: number;
  readonly members: readonly { readonly id: string; readonly tokens: readonly string[] }[];
}

/** The node's saved members, as the file has them (throws while there is no file yet). */
export async function savedPeers(dataDir: string): Promise<SavedPeersFile> {
  return JSON.parse(await readFile(path.join(dataDir, KNOWN_PEERS_FILE), "utf8")) as SavedPeersFile;
}

export interface RingSettleLine {
  /** "ring learned: serving client requests", or the line for a ring not learned in time. */
  readonly msg: string;
  /** How long after the node's engine was created it settled, by the node's own clock. */
  readonly afterMs: number;
  /** When the line was written (epoch ms), for a reader timing from outside the process. */
  readonly atMs: number;
}

/**
 * The ring-settle line of the node's latest start in its log; throws when that start has logged
 * none yet.
 */
export async function ringLearnedAtRestart(logFile: string): Promise<RingSettleLine> {
  const lines = (await readFile(logFile, "utf8"))
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as { msg?: string; afterMs?: number; time?: string });
  const started = lines.map((line) => line.msg).lastIndexOf("node started");
  const found = lines
    .slice(started)
    .find((line) => line.msg?.startsWith("ring ") === true && line.afterMs !== undefined);
  if (found?.msg === undefined || found.afterMs === undefined)
    throw new Error(`${logFile} has no ring-settle line since the node's latest start`);
  return { msg: found.msg, afterMs: found.afterMs, atMs: Date.parse(found.time ?? "") };
}
