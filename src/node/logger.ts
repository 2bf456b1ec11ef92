// node/logger.ts — the node's pino logger on stdout, level and format from the config: readable
// lines (pino-pretty) for a person at a terminal, one JSON object a line for everything else.
//
// Writes are synchronous so that the last lines before an exit (a start-up failure, "node stopped")
// are never lost in a buffer, and so a node whose stdout is a file (the cluster tests) or a pipe
// (`grapevine dev`) logs in order. pino-pretty runs as a synchronous stream in this thread, not as
// a worker-thread transport, for the same reason: a crash still flushes what was logged. At `info`
// a healthy node is quiet: one line at start, one per membership or ring change, repairs and
// streams, refused requests counted once a minute, one at stop; everything per message or per
// request is at `debug`.

import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";
import type { LogFormat } from "./options.js";

export type { Logger } from "pino";

/** The format a logger writes, once `auto` has been decided. */
export type ResolvedLogFormat = Exclude<LogFormat, "auto">;

/** `auto` is pretty for a person at a terminal and JSON for a pipe, a file or a log collector. */
export function resolveLogFormat(format: LogFormat, stdoutIsTerminal: boolean): ResolvedLogFormat {
  if (format !== "auto") return format;
  return stdoutIsTerminal ? "pretty" : "json";
}

/** Whether this process's stdout is a terminal: Node leaves isTTY undefined on pipes and files. */
export function stdoutIsTerminal(): boolean {
  return (process.stdout as { isTTY?: boolean }).isTTY === true;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to json, what a process whose output nobody reads as it goes wants. */
  readonly format?: ResolvedLogFormat;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  readonly destination?: DestinationStream;
  /**
   * Colours in pretty lines; by default when the terminal supports them (pino-pretty's test, which
   * honours NO_COLOR and FORCE_COLOR).
   */
  readonly colorize?: boolean;
}

/** One line a record: time, level, the node's id, the message, then its fields. */
function prettyStream(options: LoggerOptions): DestinationStream {
  return pretty({
    sync: true,
    destination: options.destination ?? 1,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,node",
    messageFormat: "{if node}{node}: {end}{msg}",
    ...(options.colorize === undefined ? {} : { colorize: options.colorize }),
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.format === "pretty"
      ? prettyStream(options)
      : (options.destination ?? pino.destination({ dest: 1, sync: true }));
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
