// Waiting on conditions with deadlines, never on fixed sleeps (ARCHITECTURE §6.12).

export interface WaitForOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Time between checks. */
  readonly intervalMs?: number;
  /** What is awaited, for the error message: "5 live members on every node". */
  readonly what: string;
}

/**
 * What a condition returns: a truthy value ends the wait with it; false/null/undefined checks
 * again.
 */
type Outcome<T> = T | false | null | undefined;

/**
 * Checks `condition` until it returns a truthy value, which is returned. A condition that throws is
 * checked again; at the deadline the error names `what`, the time waited, and the last thrown error
 * or the last value seen, so a failing test says what never happened.
 */
export async function waitFor<T>(
  condition: () => Outcome<T> | Promise<Outcome<T>>,
  options: WaitForOptions,
): Promise<T> {
  const intervalMs = options.intervalMs ?? 100;
  const started = Date.now();
  let last: string = "never checked";
  for (;;) {
    try {
      const value = await condition();
      if (value !== false && value !== null && value !== undefined) return value;
      last = `last result: ${String(value)}`;
    } catch (error) {
      last = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= options.timeoutMs) {
      throw new Error(`timed out after ${elapsed} ms waiting for ${options.what} (${last})`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, options.timeoutMs - elapsed)));
  }
}

/**
 * For the few waits that are the subject of a test (a SIGSTOP's duration), not a synchronization.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
