// cli/shared.ts — what every command shares: the exit codes of SPEC §1, the one-line error format,
// and the error a command throws to end with a given code.
//
// SPEC §1: exit 0 on success, 1 on a failed operation, 2 on bad usage, and every error is one
// readable line on stderr. Commands never call process.exit themselves; they return or throw, and
// main.ts turns that into the process's exit code once, after stdout and stderr are flushed.

import { ConfigError } from "../node/config.js";

export const EXIT_CODES = {
  ok: 0,
  /**
   * The operation was attempted and failed: a node unreachable, a port in use, a child that died.
   */
  failed: 1,
  /** The command line (or an environment variable standing in for a flag) was wrong. */
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A failure a command reports as one line and an exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.failed,
  ) {
    super(message);
  }
}

/** Where commands write; injectable so the formatting can be tested without a process. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: CliOutput = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

/** An error message is printed as one line, however it was built. */
/**
 * A body's JSON, or null when it is not JSON (an error page from a proxy, say): the caller judges
 * it by status.
 */
export function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Whether a stream is a terminal: Node leaves isTTY undefined (not false) on pipes, whatever its
 * type says.
 */
export function isTerminal(stream: NodeJS.WriteStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .join(" ");
}

export function printError(output: CliOutput, message: string): void {
  output.err(`grapevine: ${oneLine(message)}\n`);
}

/** Maps anything a command threw to its exit code, printing its one line. */
export function reportFailure(output: CliOutput, error: unknown): ExitCode {
  if (error instanceof ConfigError) {
    printError(output, error.message);
    return EXIT_CODES.usage;
  }
  if (error instanceof CliError) {
    printError(output, error.message);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  printError(output, `unexpected error: ${message}`);
  return EXIT_CODES.failed;
}

/** Bytes as a person reads them: `512 B`, `1.5 KiB`, `3.2 MiB` (binary units, like nodetool). */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** Strict decimal integer from a flag, or a ConfigError naming the flag. */
export function parseIntegerFlag(flag: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      flag,
      `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}
