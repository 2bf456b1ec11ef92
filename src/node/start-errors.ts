// node/start-errors.ts — why a node could not start, in one line a person can act on.
//
// A failed start must not surface as a stack trace from level or Node's net module: the operator
// needs to know which of the few usual causes it was (port in use, unusable data dir, identity
// mismatch, a database another process holds), so each is named in words here.

/** The node could not start; `message` is one line a person can act on. */
export class NodeStartError extends Error {
  override readonly name = "NodeStartError";
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function describeListenError(listen: string, error: unknown): string {
  const code = errorCode(error);
  if (code === "EADDRINUSE") return `cannot listen on ${listen}: the address is already in use`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${listen}: no such local address`;
  if (code === "EACCES") return `cannot listen on ${listen}: permission denied`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `cannot listen on ${listen}: unknown host`;
  return `cannot listen on ${listen}: ${error instanceof Error ? error.message : String(error)}`;
}

export function describeDataDirError(dataDir: string, error: unknown): string {
  const code = errorCode(error);
  if (code === "EACCES" || code === "EPERM")
    return `cannot use data dir ${dataDir}: permission denied`;
  if (code === "ENOTDIR" || code === "EEXIST")
    return `cannot use data dir ${dataDir}: a file is in the way`;
  if (code === "EROFS") return `cannot use data dir ${dataDir}: read-only file system`;
  if (code === "ENOSPC") return `cannot use data dir ${dataDir}: no space left on device`;
  return `cannot use data dir ${dataDir}: ${error instanceof Error ? error.message : String(error)}`;
}
