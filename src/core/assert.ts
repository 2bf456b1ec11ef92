// Invariant checks. A failed assertion is a bug in Grapevine, never an input error: it carries no
// error code, so the HTTP layer answers 500 and logs it with context (ARCHITECTURE §5).

export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantError(typeof message === "function" ? message() : message);
  }
}
