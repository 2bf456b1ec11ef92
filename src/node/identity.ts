// node/identity.ts — the node's persistent identity: `<data-dir>/node.json`.
//
// At first start the node picks its id (from the config) and its tokens (random, from a seed drawn
// from the OS's entropy), and writes them; every later start reads them back, so a restarted node
// keeps its place in the ring (SPEC §1 `--data-dir`). Each start also takes a new generation,
// max(now, last + 1), and persists it before the node talks to anyone: other members replace
// everything they knew of an older generation, so a generation must never repeat, even when the
// wall clock went backwards between two starts. The file is replaced atomically (write a temporary
// file, fsync it, rename, fsync the directory) so a crash leaves the old identity or the new one.

import { randomInt } from "node:crypto";
import { dataDirStateFiles } from "../storage/atomic-file.js";
import { StateFileSyntaxError, type StateFiles } from "../storage/state-files.js";
import type { NodeId } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import { tokenFromString, tokenToString, type Token } from "../ring/partitioner.js";
import { evenlySpacedTokens } from "../ring/tokens.js";

export const IDENTITY_FILE = "node.json";
const IDENTITY_FORMAT = 1;

export interface NodeIdentity {
  readonly id: NodeId;
  readonly tokens: readonly Token[];
  /** This start's generation (ms since the epoch, strictly above every earlier start's). */
  readonly generation: number;
  /** True when this start created the identity (a new node, not a restart). */
  readonly created: boolean;
}

export interface OpenIdentityOptions {
  readonly dataDir: string;
  readonly id: NodeId;
  /** When false (the id was derived, not given), an existing identity's id wins over `id`. */
  readonly idExplicit: boolean;
  readonly vnodes: number;
  /** Wall-clock ms; injectable for tests. */
  readonly nowMs?: number;
  /** Where node.json lives: the state files of `dataDir` unless given (the simulator's disk). */
  readonly files?: StateFiles;
  /** Chance for a new node's tokens; by default seeded from the OS. */
  readonly random?: Random;
}

/** The data dir belongs to another node, or its identity file is unreadable. */
export class IdentityError extends Error {
  override readonly name = "IdentityError";
}

interface IdentityFile {
  format: number;
  id: string;
  tokens: string[];
  generation: number;
}

async function readIdentityFile(files: StateFiles): Promise<IdentityFile | null> {
  const file = files.describe(IDENTITY_FILE);
  let value: unknown;
  try {
    value = await files.read(IDENTITY_FILE);
  } catch (error) {
    if (!(error instanceof StateFileSyntaxError)) throw error;
    throw new IdentityError(
      `${file} is not valid JSON; move it away to start this data dir as a new node`,
    );
  }
  if (value === undefined) return null;
  // typescript-eslint resolves `value` (unknown) as an error type here; the cast is what lets the
  // checks below read fields.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const candidate = value as Partial<IdentityFile> | null;
  if (
    typeof candidate !== "object" ||
    candidate === null ||
    candidate.format !== IDENTITY_FORMAT ||
    typeof candidate.id !== "string" ||
    candidate.id.length === 0 ||
    !Array.isArray(candidate.tokens) ||
    candidate.tokens.length === 0 ||
    !candidate.tokens.every((token) => typeof token === "string" && /^[0-9a-f]{16}$/.test(token)) ||
    typeof candidate.generation !== "number" ||
    !Number.isSafeInteger(candidate.generation)
  ) {
    throw new IdentityError(`${file} is not a Grapevine identity file (format ${IDENTITY_FORMAT})`);
  }
  return candidate as IdentityFile;
}

/** Reads the identity in `dataDir` (or creates it), takes a new generation and persists it. */
export async function openIdentity(options: OpenIdentityOptions): Promise<NodeIdentity> {
  const files = options.files ?? dataDirStateFiles(options.dataDir);
  const existing = await readIdentityFile(files);
  const now = options.nowMs ?? Date.now();

  let id: NodeId;
  let tokens: Token[];
  let generation: number;
  if (existing === null) {
    id = options.id;
    // A 32-bit seed from the OS: tokens differ between nodes, and the choice is reproducible from
    // it. Evenly spaced, one per arc of the ring: these are the tokens of a node that forms a
    // cluster without other seeds (bootstrap.ts planStart), and random ones would bunch (issue 21).
    tokens = evenlySpacedTokens(
      options.random ?? createRandom(randomInt(0, 2 ** 32)),
      options.vnodes,
    );
    generation = now;
  } else {
    if (options.idExplicit && existing.id !== options.id) {
      throw new IdentityError(
        `data dir ${options.dataDir} belongs to node "${existing.id}", not "${options.id}"; ` +
          `use --id ${existing.id} or another --data-dir`,
      );
    }
    if (existing.tokens.length !== options.vnodes) {
      throw new IdentityError(
        `data dir ${options.dataDir} holds ${existing.tokens.length} tokens but --vnodes is ${options.vnodes}; ` +
          `a node's token count cannot change after its first start`,
      );
    }
    id = existing.id;
    tokens = existing.tokens.map(tokenFromString);
    generation = Math.max(now, existing.generation + 1);
  }

  const content: IdentityFile = {
    format: IDENTITY_FORMAT,
    id,
    tokens: tokens.map(tokenToString),
    generation,
  };
  await files.write(IDENTITY_FILE, `${JSON.stringify(content, null, 2)}\n`);
  return { id, tokens, generation, created: existing === null };
}
