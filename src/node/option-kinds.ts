// node/option-kinds.ts — the kinds of value a node option takes (integer with bounds, on/off, enum,
// address, list, …): how each parses the raw text of a flag or GRAPEVINE_* variable, what it shows
// as a default, and which texts it must refuse (the tests feed those to every option). An invalid
// value is a ConfigError whose one-line message names the flag or variable the user typed, in the
// shape `<source> must be <expectation>, got "<text>"`; the CLI prints it and exits 2.

import path from "node:path";
import type { Address, NodeId } from "../core/ids.js";
import {
  ConsistencyError,
  parseConsistency as parseConsistencyLevel,
  type ConsistencyLevel,
} from "../replication/consistency.js";

/** An invalid option: `option` is what the user typed (`--vnodes` or `GRAPEVINE_VNODES`). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RawValue {
  readonly text: string;
  /** How the user named it (`--vnodes`, `GRAPEVINE_VNODES`), for error messages. */
  readonly source: string;
}

function fail(raw: RawValue, expectation: string): never {
  throw new ConfigError(
    raw.source,
    `${raw.source} must be ${expectation}, got ${JSON.stringify(raw.text)}`,
  );
}

/**
 * The options other options' defaults or bounds depend on, typed by hand so a kind's parser can
 * read them without the declarations' type depending on itself (the config test checks they agree).
 */
export interface EarlierValues {
  readonly listen: Address;
  readonly advertise: Address;
  readonly id: NodeId;
  readonly replicationFactor: number;
}
export type Resolve = <K extends keyof EarlierValues>(key: K) => EarlierValues[K];

export interface OptionKind<T> {
  parse(raw: RawValue, resolve: Resolve): T;
  /**
   * A value as the flag would spell it, for help, the README and the tests; null when none does
   * (unset).
   */
  format(value: T): string | null;
  /**
   * Texts this kind refuses (out of bounds, malformed): the tests check every option refuses them.
   */
  readonly invalid: readonly string[];
}

export interface IntegerKind extends OptionKind<number> {
  readonly min: number;
  readonly max: number;
}

export function integer(min: number, max: number): IntegerKind {
  const expectation = `an integer from ${min} to ${max}`;
  return {
    min,
    max,
    parse(raw) {
      const text = raw.text.trim();
      if (!/^-?\d+$/.test(text)) fail(raw, expectation);
      const value = Number(text);
      if (!Number.isSafeInteger(value) || value < min || value > max) fail(raw, expectation);
      return value;
    },
    format: String,
    invalid: [String(min - 1), String(max + 1), "1.5", "ten"],
  };
}

/** A positive real number up to `max` (the phi threshold). */
export function positiveNumber(max: number): OptionKind<number> & { readonly max: number } {
  return {
    max,
    parse(raw) {
      const text = raw.text.trim();
      const value = Number(text);
      if (text === "" || !Number.isFinite(value) || value <= 0 || value > max) {
        fail(raw, `a number greater than 0 and at most ${max}`);
      }
      return value;
    },
    format: String,
    invalid: ["0", "-1", String(max * 2), "x"],
  };
}

/** An integer from `min` to `max`, or `off` for null (a background task that can be turned off). */
export function integerOrOff(min: number, max: number): OptionKind<number | null> {
  return {
    parse(raw) {
      const text = raw.text.trim().toLowerCase();
      if (text === "off") return null;
      if (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= max) return Number(text);
      return fail(raw, `an integer from ${min} to ${max} or off`);
    },
    format: (value) => (value === null ? "off" : String(value)),
    invalid: [String(min - 1), String(max + 1), "never"],
  };
}

/** on/off (true/false accepted too). */
export const onOff: OptionKind<boolean> = {
  parse(raw) {
    const text = raw.text.trim().toLowerCase();
    if (text === "on" || text === "true") return true;
    if (text === "off" || text === "false") return false;
    return fail(raw, "on or off");
  },
  format: (value) => (value ? "on" : "off"),
  invalid: ["maybe", "sometimes"],
};

/** One of `values`, case-insensitive. */
export function oneOf<const T extends string>(values: readonly T[]): OptionKind<T> {
  return {
    parse(raw) {
      const text = raw.text.trim().toLowerCase();
      const found = values.find((candidate) => candidate === text);
      if (found === undefined) fail(raw, `one of ${values.join(", ")}`);
      return found;
    },
    format: (value) => value,
    invalid: ["loud"],
  };
}

const HOST_PATTERN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, with a bracketed IPv6 host allowed; null when malformed. */
export function parseHostPort(text: string): HostPort | null {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return null;
  const host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!HOST_PATTERN.test(host) || !/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65_535) return null;
  return { host, port };
}

/** `HOST:PORT`, normalized (no spaces). */
export const address: OptionKind<Address> = {
  parse(raw) {
    const parsed = parseHostPort(raw.text.trim());
    if (parsed === null) fail(raw, "HOST:PORT with a port from 1 to 65535");
    return `${parsed.host}:${parsed.port}`;
  },
  format: (value) => value,
  invalid: ["no-port-here", "127.0.0.1:0", "127.0.0.1:65536"],
};

/** A comma-separated list of `HOST:PORT`, at most `max`, duplicates dropped. */
export function addressList(max: number): OptionKind<readonly Address[]> {
  return {
    parse(raw) {
      const parts = raw.text
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part.length > 0);
      if (parts.length > max) fail(raw, `at most ${max} addresses`);
      const addresses: Address[] = [];
      for (const part of parts) {
        const parsed = parseHostPort(part);
        if (parsed === null) fail(raw, "a comma-separated list of HOST:PORT");
        const text = `${parsed.host}:${parsed.port}`;
        if (!addresses.includes(text)) addresses.push(text);
      }
      return Object.freeze(addresses);
    },
    format: (value) => value.join(","),
    invalid: [
      "127.0.0.1:7001,not an address",
      Array.from({ length: max + 1 }, (_, i) => `127.0.0.1:${i + 1}`).join(","),
    ],
  };
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A node id: 1 to `bytesMax` letters, digits, '.', '_' or '-', starting with a letter or digit. */
export function nodeId(bytesMax: number): OptionKind<NodeId> {
  return {
    parse(raw) {
      const id = raw.text.trim();
      if (id.length === 0 || Buffer.byteLength(id) > bytesMax || !ID_PATTERN.test(id)) {
        fail(
          raw,
          `1 to ${bytesMax} letters, digits, '.', '_' or '-', starting with a letter or digit`,
        );
      }
      return id;
    },
    format: (value) => value,
    invalid: ["-starts-with-a-dash", "a".repeat(bytesMax + 1), "   "],
  };
}

/** A directory, resolved against the working directory. */
export const directory: OptionKind<string> = {
  parse(raw) {
    const text = raw.text.trim();
    if (text === "") fail(raw, "a directory");
    return path.resolve(text);
  },
  format: (value) => value,
  invalid: ["   "],
};

/** A directory that may be left unset (null): `--certs-dir`. */
export const optionalDirectory: OptionKind<string | null> = {
  parse: (raw, resolve) => directory.parse(raw, resolve),
  format: (value) => value,
  invalid: ["   "],
};

/** `one`, `quorum`, `all` or a count up to the replication factor (replication/consistency.ts). */
export const consistency: OptionKind<ConsistencyLevel> = {
  parse(raw, resolve) {
    const replicationFactor = resolve("replicationFactor");
    try {
      return parseConsistencyLevel(raw.text, replicationFactor);
    } catch (error) {
      if (!(error instanceof ConsistencyError)) throw error;
      return fail(
        raw,
        `one, quorum, all or a number from 1 to the replication factor (${replicationFactor})`,
      );
    }
  },
  format: String,
  // The default replication factor is 3.
  invalid: ["most", "4", "0"],
};

/** A secret of 1 to `bytesMax` bytes, taken as given (no trimming) and never echoed in an error. */
export function secret(bytesMax: number): OptionKind<string | null> {
  return {
    parse(raw) {
      if (raw.text.length === 0 || Buffer.byteLength(raw.text) > bytesMax) {
        throw new ConfigError(raw.source, `${raw.source} must be 1 to ${bytesMax} bytes`);
      }
      return raw.text;
    },
    format: (value) => value,
    invalid: ["s".repeat(bytesMax + 1)],
  };
}
