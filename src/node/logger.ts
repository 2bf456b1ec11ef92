// node/logger.ts — the node's pino logger: JSON lines on stdout, level from the config.
//
// Writes are synchronous so that the last lines before an exit (a start-up failure, "node stopped")
// are never lost in a buffer, and so a node whose stdout is a file (the cluster tests) or a pipe
// (`grapevine dev`) logs in order. At `info` a healthy node is quiet: one line at start, one per
// membership change, one at stop; everything per message is at `debug`.

import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** fastify logs "Server listening" and per-request lines at info; a node keeps them to debug. */
export function httpLogLevel(level: LogLevel): LogLevel {
  return level === "info" ? "warn" : level;
}
