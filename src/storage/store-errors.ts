// storage/store-errors.ts — the errors the store throws to its callers, in one place so the
// facade (store.ts) and the parts that throw them (the write lane, the read coalescer, opening)
// share one definition. (They move to the core/ error table later; store.ts keeps exporting them.)

/** The write queue is full: the replica is overloaded. The coordinator answers 503 or times out. */
export class StoreOverloadedError extends Error {
  override readonly name = "StoreOverloadedError";
  constructor(
    readonly limit: "queuedWritesMax" | "queuedBytesMax",
    message: string,
  ) {
    super(message);
  }
}

/** The store was closed (the node is shutting down). */
export class StoreClosedError extends Error {
  override readonly name = "StoreClosedError";
}

/** The database was written by a layout this code does not know. */
export class StoreFormatError extends Error {
  override readonly name = "StoreFormatError";
}
