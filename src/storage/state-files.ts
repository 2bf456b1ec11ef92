// storage/state-files.ts — the port for the small JSON state files beside the database
// (node.json, ring.json, peers.json). Their owners (node/identity.ts, topology/ring-state.ts,
// topology/known-peers.ts) read and write through it, so the node keeps them in its data dir
// (atomic-file.ts) and the simulator on a simulated disk (sim/sim-disk.ts) with the same code.

/** A state file whose text is not JSON; its owner decides what that means (refuse to start?). */
export class StateFileSyntaxError extends Error {
  override readonly name = "StateFileSyntaxError";
}

export interface StateFiles {
  /**
   * The named file's parsed JSON, or undefined when it does not exist (JSON never parses to
   * undefined). Rejects with StateFileSyntaxError for text that is not JSON, other errors as is.
   */
  read(name: string): Promise<unknown>;
  /** Replaces the file's content so that a crash leaves either the old or the new content. */
  write(name: string, content: string): Promise<void>;
  /** Where the file lives, for messages (a path in the node). */
  describe(name: string): string;
}

/** The JSON of a state file's text; `where` names it in the error. */
export function parseStateFile(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new StateFileSyntaxError(`${where} is not valid JSON`);
  }
}
