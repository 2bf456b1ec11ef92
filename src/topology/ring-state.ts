// topology/ring-state.ts — where this node stands in the ring's life cycle, persisted in
// `<data-dir>/ring.json` so a restart knows it: normal (with its tokens), still joining (a
// bootstrap to resume with the same tokens), or left (a decommissioned node must not come back with
// stale data). Written atomically at every transition (write a temporary file, fsync, rename, fsync
// the directory, as node/identity.ts does), so a crash leaves the old state or the new one.
//
// A data dir from before ring.json existed has an identity and data but no ring state: that node
// was normal, and stays so with its identity's tokens (a restarted node with data does not
// bootstrap).

import { dataDirStateFiles } from "../storage/atomic-file.js";
import { StateFileSyntaxError, type StateFiles } from "../storage/state-files.js";
import { tokenFromString, tokenToString, type Token } from "../ring/partitioner.js";

export const RING_STATE_FILE = "ring.json";
const RING_STATE_FORMAT = 1;

export interface RingState {
  readonly status: "joining" | "normal" | "left";
  readonly tokens: readonly Token[];
}

export class RingStateError extends Error {
  override readonly name = "RingStateError";
}

/** `files` defaults to the state files of `dataDir` (the simulator gives its disk's). */
export async function readRingState(
  dataDir: string,
  files: StateFiles = dataDirStateFiles(dataDir),
): Promise<RingState | null> {
  const file = files.describe(RING_STATE_FILE);
  let value: unknown;
  try {
    value = await files.read(RING_STATE_FILE);
  } catch (error) {
    throw error instanceof StateFileSyntaxError ? new RingStateError(error.message) : error;
  }
  if (value === undefined) return null;
  // typescript-eslint resolves `value` (unknown) as an error type here; the cast is what lets the
  // checks below read fields.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const candidate = value as { format?: unknown; status?: unknown; tokens?: unknown } | null;
  if (
    candidate === null ||
    typeof candidate !== "object" ||
    candidate.format !== RING_STATE_FORMAT ||
    (candidate.status !== "joining" &&
      candidate.status !== "normal" &&
      candidate.status !== "left") ||
    !Array.isArray(candidate.tokens) ||
    !candidate.tokens.every((token) => typeof token === "string" && /^[0-9a-f]{16}$/.test(token))
  ) {
    throw new RingStateError(`${file} is not a Grapevine ring state (format ${RING_STATE_FORMAT})`);
  }
  return { status: candidate.status, tokens: (candidate.tokens as string[]).map(tokenFromString) };
}

export async function writeRingState(
  dataDir: string,
  state: RingState,
  files: StateFiles = dataDirStateFiles(dataDir),
): Promise<void> {
  const body = {
    format: RING_STATE_FORMAT,
    status: state.status,
    tokens: state.tokens.map(tokenToString),
  };
  await files.write(RING_STATE_FILE, `${JSON.stringify(body, null, 2)}\n`);
}
