// node/config.ts — the one configuration object of a node (SPEC §1 "Node options"), parsed and
// validated once at start-up from the declarations in node/options.ts. Every option comes from its
// flag, else its GRAPEVINE_* environment variable, else its default; an invalid value is a
// ConfigError that names the flag (or the variable it came from), which the CLI prints as one line
// and turns into exit code 2. No other module reads process.env or argv: the CLI hands raw flag
// strings here, and this module owns the environment.

import { assert } from "../core/assert.js";
import { ConfigError, parseHostPort, type EarlierValues, type RawValue } from "./option-kinds.js";
import {
  Derived,
  envName,
  NODE_OPTION_KEYS,
  NODE_OPTIONS,
  optionName,
  type NodeOptionKey,
  type NodeOptionName,
  type NodeOptionValues,
  type OptionDeclaration,
} from "./options.js";

export { ConfigError } from "./option-kinds.js";
export {
  deriveNodeId,
  envName,
  NODE_OPTION_NAMES,
  type LogLevel,
  type NodeOptionName,
} from "./options.js";

/** Every declared option's value (node/options.ts), and what the parser adds to them. */
export type NodeConfig = NodeOptionValues & {
  /**
   * True when --id or GRAPEVINE_ID named the id; a derived id yields to the one stored in the data
   * dir.
   */
  readonly idExplicit: boolean;
  /** The listen address's parts, for the server's listen(). */
  readonly listenHost: string;
  readonly listenPort: number;
};

/** The raw strings the CLI collected, keyed by the flag's name without dashes (`data-dir`). */
export type RawNodeOptions = Readonly<Partial<Record<NodeOptionName, string>>>;
export type Environment = Readonly<Record<string, string | undefined>>;

function pick(
  flags: RawNodeOptions,
  env: Environment,
  option: NodeOptionName,
): RawValue | undefined {
  const flag = flags[option];
  if (flag !== undefined) return { text: flag, source: `--${option}` };
  const variable = env[envName(option)];
  if (variable !== undefined && variable !== "") return { text: variable, source: envName(option) };
  return undefined;
}

/**
 * Builds the node's configuration from the CLI's raw flag strings and the environment
 * (flag > GRAPEVINE_* variable > default). Options are resolved in declaration order, except that
 * an option derived from others (the id from the advertise address) or bounded by another (a
 * consistency level by the replication factor) resolves those first. Throws ConfigError on the
 * first invalid one.
 */
export function parseNodeConfig(flags: RawNodeOptions, env: Environment): NodeConfig {
  const values = new Map<NodeOptionKey, unknown>();
  const resolving = new Set<NodeOptionKey>();
  const given = new Set<NodeOptionKey>();
  const resolve = (key: NodeOptionKey): unknown => {
    if (values.has(key)) return values.get(key);
    assert(!resolving.has(key), () => `node option ${key} depends on itself`);
    resolving.add(key);
    const declaration: OptionDeclaration<unknown> = NODE_OPTIONS[key];
    if (declaration.default instanceof Derived)
      for (const from of declaration.default.from) resolve(from);
    const raw = pick(flags, env, optionName(key));
    let value: unknown;
    if (raw !== undefined) {
      given.add(key);
      value = declaration.kind.parse(raw, resolveEarlier);
    } else {
      value =
        declaration.default instanceof Derived
          ? declaration.default.derive(resolveEarlier)
          : declaration.default;
    }
    resolving.delete(key);
    values.set(key, value);
    return value;
  };
  const resolveEarlier = <K extends keyof EarlierValues>(key: K): EarlierValues[K] =>
    resolve(key) as EarlierValues[K];

  for (const key of NODE_OPTION_KEYS) resolve(key);
  const parsed = Object.fromEntries(values) as unknown as NodeOptionValues;
  const listen = parseHostPort(parsed.listen);
  assert(listen !== null, "a parsed listen address parses again");
  return Object.freeze({
    ...parsed,
    idExplicit: given.has("id"),
    listenHost: listen.host,
    listenPort: listen.port,
  });
}

/** The environment of this process; the one place that reads it. */
export function processEnvironment(): Environment {
  return process.env;
}

/** SPEC §1: client commands talk to `--node`, else GRAPEVINE_NODE, else the default node. */
export const DEFAULT_NODE_URL = "http://127.0.0.1:7001";

export function resolveNodeUrl(flag: string | undefined, env: Environment): string {
  const raw = flag ?? env["GRAPEVINE_NODE"] ?? DEFAULT_NODE_URL;
  const source =
    flag !== undefined
      ? "--node"
      : env["GRAPEVINE_NODE"] !== undefined
        ? "GRAPEVINE_NODE"
        : "--node";
  let url: URL;
  try {
    // A bare HOST:PORT is accepted as a convenience.
    url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new ConfigError(
      source,
      `${source} must be a URL like http://127.0.0.1:7001, got ${JSON.stringify(raw)}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(
      source,
      `${source} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`,
    );
  }
  return url.origin;
}
