// node/config.ts — the one configuration object of a node (SPEC §1 "Node options"), parsed and
// validated once at start-up. Every option comes from its flag, else its GRAPEVINE_* environment
// variable, else its default; an invalid value is a ConfigError that names the flag (or the variable
// it came from), which the CLI prints as one line and turns into exit code 2. No other module reads
// process.env or argv: the CLI hands raw flag strings here, and this module owns the environment.

import path from "node:path";
import type { Address, NodeId } from "../core/ids.js";
import { NODE_ID_BYTES_MAX, REPLICATION_FACTOR_MAX, VALUE_BYTES_MAX, VNODES_MAX } from "../core/limits.js";
import {
  ConsistencyError,
  parseConsistency as parseConsistencyLevel,
  type ConsistencyLevel,
} from "../replication/consistency.js";

// One definition of the levels and their parsing: replication/consistency.ts.
export type { ConsistencyLevel };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface NodeConfig {
  readonly id: NodeId;
  /** True when --id or GRAPEVINE_ID named the id; a derived id yields to the one stored in the data dir. */
  readonly idExplicit: boolean;
  readonly listen: Address;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly advertise: Address;
  readonly seeds: readonly Address[];
  readonly dataDir: string;
  readonly replicationFactor: number;
  readonly vnodes: number;
  readonly readConsistency: ConsistencyLevel;
  readonly writeConsistency: ConsistencyLevel;
  readonly requestTimeoutMs: number;
  /**
   * The largest wall-clock offset tolerated between two nodes (ms): a timestamp further ahead of this
   * node's clock is refused, and a node this far off from most of its peers stops coordinating writes.
   */
  readonly maxClockOffsetMs: number;
  readonly gossipIntervalMs: number;
  readonly phiThreshold: number;
  readonly hintedHandoff: boolean;
  readonly hintWindowS: number;
  /** Seconds between background Merkle exchanges, or null when turned off. */
  readonly antiEntropyIntervalS: number | null;
  readonly maxValueBytes: number;
  /** Range streaming (ring changes): bytes per second over all of this node's streams. */
  readonly streamBytesPerS: number;
  /** Range streams this node runs at once. */
  readonly streamsMax: number;
  readonly clusterSecret: string | null;
  readonly sync: boolean;
  readonly logLevel: LogLevel;
}

/** The raw strings the CLI collected, keyed by the flag's name without dashes (`data-dir`). */
export type RawNodeOptions = Readonly<Partial<Record<NodeOptionName, string>>>;
export type Environment = Readonly<Record<string, string | undefined>>;

export const NODE_OPTION_NAMES = [
  "id",
  "listen",
  "advertise",
  "seeds",
  "data-dir",
  "replication-factor",
  "vnodes",
  "read-consistency",
  "write-consistency",
  "request-timeout-ms",
  "max-clock-offset-ms",
  "gossip-interval-ms",
  "phi-threshold",
  "hinted-handoff",
  "hint-window-s",
  "anti-entropy-interval-s",
  "max-value-bytes",
  "stream-bytes-per-s",
  "streams-max",
  "cluster-secret",
  "sync",
  "log-level",
] as const;
export type NodeOptionName = (typeof NODE_OPTION_NAMES)[number];

/** Bounds of the values we accept; beyond them an option is a typo, not a choice. */
export const CONFIG_LIMITS = {
  idBytesMax: NODE_ID_BYTES_MAX,
  seedsMax: 64,
  replicationFactorMax: REPLICATION_FACTOR_MAX,
  vnodesMax: VNODES_MAX,
  requestTimeoutMsMax: 600_000,
  // Below 10 ms a busy LAN's round trips alone would fence nodes; above an hour the guard guards nothing.
  maxClockOffsetMsMin: 10,
  maxClockOffsetMsMax: 3_600_000,
  gossipIntervalMsMin: 10,
  gossipIntervalMsMax: 60_000,
  phiThresholdMax: 1_000,
  hintWindowSMax: 30 * 24 * 3600,
  antiEntropyIntervalSMax: 7 * 24 * 3600,
  maxValueBytesMax: VALUE_BYTES_MAX,
  streamBytesPerSMax: 10 * 1024 * 1024 * 1024,
  streamsMaxMax: 64,
  clusterSecretBytesMax: 1024,
} as const;

export const CONFIG_DEFAULTS = {
  // The SPEC's default port; a second local node is usually 7002, as `grapevine dev` does.
  listen: "127.0.0.1:7001",
  // Three replicas tolerate one lost replica at quorum reads and writes (Dynamo's N=3, R=W=2).
  replicationFactor: 3,
  // 16 tokens per node spread ownership within a few percent at small N without bloating gossip
  // (Cassandra 4 lowered num_tokens from 256 to 16 for the same reason).
  vnodes: 16,
  // Quorum on both sides makes R + W > N, so reads see acknowledged writes (SPEC §4).
  readConsistency: "quorum" as ConsistencyLevel,
  writeConsistency: "quorum" as ConsistencyLevel,
  // Long enough for a loaded replica on a LAN, short enough that a client is not left hanging.
  requestTimeoutMs: 2_000,
  // CockroachDB's --max-offset: NTP keeps clocks within a few ms, 500 ms is a clock that is broken.
  maxClockOffsetMs: 500,
  // Cassandra's gossip round: fast enough for seconds-level convergence, cheap at 1,000 nodes.
  gossipIntervalMs: 1_000,
  // Cassandra's phi_convict_threshold; with direct heartbeats this convicts a crash in a few seconds.
  phiThreshold: 8,
  // Hints keep short outages cheap to heal; anti-entropy covers longer ones.
  hintedHandoff: true,
  // Cassandra's max_hint_window: three hours.
  hintWindowS: 10_800,
  // Ten minutes between Merkle exchanges: repair traffic stays small against client traffic.
  antiEntropyIntervalS: 600 as number | null,
  // 1 MiB: a KV store, not a blob store; larger values hurt every replica's latency.
  maxValueBytes: 1_048_576,
  // 32 MiB/s of streaming during a ring change: a fraction of a disk's and a LAN's bandwidth, so
  // clients keep their latency (Cassandra's stream_throughput_outbound defaults to 24 MiB/s).
  streamBytesPerS: 32 * 1024 * 1024,
  // Two streams at once keep a source and a target busy without letting a change hog a node.
  streamsMax: 2,
  // Like Cassandra's commitlog_sync periodic: the log is written before acknowledging, fsync batched.
  sync: false,
  logLevel: "info" as LogLevel,
} as const;

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

/** `data-dir` → `GRAPEVINE_DATA_DIR` (SPEC §1). */
export function envName(option: NodeOptionName): string {
  return `GRAPEVINE_${option.toUpperCase().replace(/-/g, "_")}`;
}

interface RawValue {
  readonly text: string;
  /** How the user named it, for error messages. */
  readonly source: string;
}

function pick(flags: RawNodeOptions, env: Environment, option: NodeOptionName): RawValue | undefined {
  const flag = flags[option];
  if (flag !== undefined) return { text: flag, source: `--${option}` };
  const variable = env[envName(option)];
  if (variable !== undefined && variable !== "") return { text: variable, source: envName(option) };
  return undefined;
}

function fail(raw: RawValue, expectation: string): never {
  throw new ConfigError(raw.source, `${raw.source} must be ${expectation}, got ${JSON.stringify(raw.text)}`);
}

function parseInteger(raw: RawValue, min: number, max: number): number {
  const text = raw.text.trim();
  if (!/^-?\d+$/.test(text)) fail(raw, `an integer from ${min} to ${max}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) fail(raw, `an integer from ${min} to ${max}`);
  return value;
}

function parsePositiveNumber(raw: RawValue, max: number): number {
  const text = raw.text.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value) || value <= 0 || value > max) {
    fail(raw, `a number greater than 0 and at most ${max}`);
  }
  return value;
}

function parseSwitch(raw: RawValue): boolean {
  const text = raw.text.trim().toLowerCase();
  if (text === "on" || text === "true") return true;
  if (text === "off" || text === "false") return false;
  return fail(raw, "on or off");
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

function parseAddress(raw: RawValue): HostPort {
  const parsed = parseHostPort(raw.text.trim());
  if (parsed === null) fail(raw, "HOST:PORT with a port from 1 to 65535");
  return parsed;
}

function parseConsistency(raw: RawValue, replicationFactor: number): ConsistencyLevel {
  try {
    return parseConsistencyLevel(raw.text, replicationFactor);
  } catch (error) {
    if (!(error instanceof ConsistencyError)) throw error;
    return fail(raw, `one, quorum, all or a number from 1 to the replication factor (${replicationFactor})`);
  }
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `127.0.0.1:7001` → `node-127-0-0-1-7001`: stable for a given advertise address, and a valid id. */
export function deriveNodeId(advertise: Address): NodeId {
  const slug = advertise
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, CONFIG_LIMITS.idBytesMax - "node-".length);
  return `node-${slug}`;
}

/**
 * Builds the node's configuration from the CLI's raw flag strings and the environment
 * (flag > GRAPEVINE_* variable > default). Throws ConfigError on the first invalid option.
 */
export function parseNodeConfig(flags: RawNodeOptions, env: Environment): NodeConfig {
  const get = (option: NodeOptionName): RawValue | undefined => pick(flags, env, option);

  const listenRaw = get("listen");
  const listen = listenRaw ? parseAddress(listenRaw) : (parseHostPort(CONFIG_DEFAULTS.listen) as HostPort);
  const listenText = `${listen.host}:${listen.port}`;

  const advertiseRaw = get("advertise");
  const advertise = advertiseRaw ? parseAddress(advertiseRaw) : listen;
  const advertiseText = `${advertise.host}:${advertise.port}`;

  const idRaw = get("id");
  let id: NodeId;
  if (idRaw) {
    id = idRaw.text.trim();
    if (id.length === 0 || Buffer.byteLength(id) > CONFIG_LIMITS.idBytesMax || !ID_PATTERN.test(id)) {
      fail(idRaw, `1 to ${CONFIG_LIMITS.idBytesMax} letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
  } else {
    id = deriveNodeId(advertiseText);
  }

  const seedsRaw = get("seeds");
  const seeds: Address[] = [];
  if (seedsRaw) {
    const parts = seedsRaw.text.split(",").map((part) => part.trim()).filter((part) => part.length > 0);
    if (parts.length > CONFIG_LIMITS.seedsMax) fail(seedsRaw, `at most ${CONFIG_LIMITS.seedsMax} addresses`);
    for (const part of parts) {
      const parsed = parseHostPort(part);
      if (parsed === null) fail(seedsRaw, "a comma-separated list of HOST:PORT");
      const address = `${parsed.host}:${parsed.port}`;
      if (!seeds.includes(address)) seeds.push(address);
    }
  }

  const dataDirRaw = get("data-dir");
  if (dataDirRaw && dataDirRaw.text.trim() === "") fail(dataDirRaw, "a directory");
  const dataDir = path.resolve(dataDirRaw ? dataDirRaw.text.trim() : path.join("data", id));

  const rfRaw = get("replication-factor");
  const replicationFactor = rfRaw
    ? parseInteger(rfRaw, 1, CONFIG_LIMITS.replicationFactorMax)
    : CONFIG_DEFAULTS.replicationFactor;

  const vnodesRaw = get("vnodes");
  const vnodes = vnodesRaw ? parseInteger(vnodesRaw, 1, CONFIG_LIMITS.vnodesMax) : CONFIG_DEFAULTS.vnodes;

  const readRaw = get("read-consistency");
  const readConsistency = readRaw ? parseConsistency(readRaw, replicationFactor) : CONFIG_DEFAULTS.readConsistency;
  const writeRaw = get("write-consistency");
  const writeConsistency = writeRaw
    ? parseConsistency(writeRaw, replicationFactor)
    : CONFIG_DEFAULTS.writeConsistency;

  const timeoutRaw = get("request-timeout-ms");
  const requestTimeoutMs = timeoutRaw
    ? parseInteger(timeoutRaw, 1, CONFIG_LIMITS.requestTimeoutMsMax)
    : CONFIG_DEFAULTS.requestTimeoutMs;

  const clockOffsetRaw = get("max-clock-offset-ms");
  const maxClockOffsetMs = clockOffsetRaw
    ? parseInteger(clockOffsetRaw, CONFIG_LIMITS.maxClockOffsetMsMin, CONFIG_LIMITS.maxClockOffsetMsMax)
    : CONFIG_DEFAULTS.maxClockOffsetMs;

  const gossipRaw = get("gossip-interval-ms");
  const gossipIntervalMs = gossipRaw
    ? parseInteger(gossipRaw, CONFIG_LIMITS.gossipIntervalMsMin, CONFIG_LIMITS.gossipIntervalMsMax)
    : CONFIG_DEFAULTS.gossipIntervalMs;

  const phiRaw = get("phi-threshold");
  const phiThreshold = phiRaw ? parsePositiveNumber(phiRaw, CONFIG_LIMITS.phiThresholdMax) : CONFIG_DEFAULTS.phiThreshold;

  const handoffRaw = get("hinted-handoff");
  const hintedHandoff = handoffRaw ? parseSwitch(handoffRaw) : CONFIG_DEFAULTS.hintedHandoff;

  const hintWindowRaw = get("hint-window-s");
  const hintWindowS = hintWindowRaw
    ? parseInteger(hintWindowRaw, 0, CONFIG_LIMITS.hintWindowSMax)
    : CONFIG_DEFAULTS.hintWindowS;

  const antiEntropyRaw = get("anti-entropy-interval-s");
  let antiEntropyIntervalS = CONFIG_DEFAULTS.antiEntropyIntervalS;
  if (antiEntropyRaw) {
    const text = antiEntropyRaw.text.trim().toLowerCase();
    if (text === "off") {
      antiEntropyIntervalS = null;
    } else if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= CONFIG_LIMITS.antiEntropyIntervalSMax) {
      antiEntropyIntervalS = Number(text);
    } else {
      fail(antiEntropyRaw, `an integer from 1 to ${CONFIG_LIMITS.antiEntropyIntervalSMax} or off`);
    }
  }

  const maxValueRaw = get("max-value-bytes");
  const maxValueBytes = maxValueRaw
    ? parseInteger(maxValueRaw, 1, CONFIG_LIMITS.maxValueBytesMax)
    : CONFIG_DEFAULTS.maxValueBytes;

  const streamRateRaw = get("stream-bytes-per-s");
  const streamBytesPerS = streamRateRaw
    ? parseInteger(streamRateRaw, 1, CONFIG_LIMITS.streamBytesPerSMax)
    : CONFIG_DEFAULTS.streamBytesPerS;
  const streamsRaw = get("streams-max");
  const streamsMax = streamsRaw ? parseInteger(streamsRaw, 1, CONFIG_LIMITS.streamsMaxMax) : CONFIG_DEFAULTS.streamsMax;

  const secretRaw = get("cluster-secret");
  let clusterSecret: string | null = null;
  if (secretRaw) {
    // Never echo a secret back in an error message.
    if (secretRaw.text.length === 0 || Buffer.byteLength(secretRaw.text) > CONFIG_LIMITS.clusterSecretBytesMax) {
      throw new ConfigError(
        secretRaw.source,
        `${secretRaw.source} must be 1 to ${CONFIG_LIMITS.clusterSecretBytesMax} bytes`,
      );
    }
    clusterSecret = secretRaw.text;
  }

  const syncRaw = get("sync");
  const sync = syncRaw ? parseSwitch(syncRaw) : CONFIG_DEFAULTS.sync;

  const logRaw = get("log-level");
  let logLevel: LogLevel = CONFIG_DEFAULTS.logLevel;
  if (logRaw) {
    const text = logRaw.text.trim().toLowerCase();
    const level = LOG_LEVELS.find((candidate) => candidate === text);
    if (level === undefined) fail(logRaw, `one of ${LOG_LEVELS.join(", ")}`);
    logLevel = level;
  }

  return Object.freeze({
    id,
    idExplicit: idRaw !== undefined,
    listen: listenText,
    listenHost: listen.host,
    listenPort: listen.port,
    advertise: advertiseText,
    seeds: Object.freeze(seeds),
    dataDir,
    replicationFactor,
    vnodes,
    readConsistency,
    writeConsistency,
    requestTimeoutMs,
    maxClockOffsetMs,
    gossipIntervalMs,
    phiThreshold,
    hintedHandoff,
    hintWindowS,
    antiEntropyIntervalS,
    maxValueBytes,
    streamBytesPerS,
    streamsMax,
    clusterSecret,
    sync,
    logLevel,
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
  const source = flag !== undefined ? "--node" : env["GRAPEVINE_NODE"] !== undefined ? "GRAPEVINE_NODE" : "--node";
  let url: URL;
  try {
    // A bare HOST:PORT is accepted as a convenience.
    url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new ConfigError(source, `${source} must be a URL like http://127.0.0.1:7001, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(source, `${source} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  return url.origin;
}
