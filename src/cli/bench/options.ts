// cli/bench/options.ts — `grapevine bench`'s flags (SPEC §6), validated once into a frozen
// BenchOptions before anything connects or starts. Every bad value is a ConfigError naming the
// flag, which the CLI prints as one line with exit code 2 (SPEC §1).

import { randomInt } from "node:crypto";
import { REPLICATION_FACTOR_MAX, VALUE_BYTES_MAX } from "../../core/limits.js";
import { ConfigError, resolveNodeUrl, type Environment } from "../../node/config.js";
import { DEV_LIMITS, DEV_PASS_THROUGH_OPTIONS } from "../dev.js";
import {
  collectNodeOptions,
  nodeOptionAliases,
  optionAttribute,
  parseStartConfig,
} from "../start.js";
import { KEY_COUNT_MAX, KEY_DISTRIBUTIONS, type KeyDistribution } from "./key-chooser.js";
import { KV_CLIENT_LIMITS } from "./kv-client.js";
import { isWorkloadName, WORKLOADS, type Workload } from "./workload.js";

export const BENCH_LIMITS = {
  /** Closed-loop workers: past a few thousand sockets the client, not the store, is measured. */
  concurrencyMax: 4_096,
  keysMax: KEY_COUNT_MAX,
  nodeUrlsMax: KV_CLIENT_LIMITS.nodesMax,
  localNodesMax: DEV_LIMITS.nodesMax,
  /** A day: longer runs are soak tests, not benchmarks. */
  durationSMax: 86_400,
  warmupSMax: 3_600,
  /** Far above what one client process can issue; a higher target is a typo. */
  targetRateMax: 10_000_000,
  seedMax: 0xffff_ffff,
  /**
   * Bound of --value-size against a running cluster, whose --max-value-bytes the bench cannot see:
   * the largest any node accepts. A node configured lower answers 413, which the load phase
   * reports.
   */
  remoteValueSizeMax: VALUE_BYTES_MAX,
  /** Client deadline per request: longer than any sane --request-timeout-ms of the coordinator. */
  requestTimeoutMs: 30_000,
} as const;

export const BENCH_DEFAULTS = {
  workload: "a",
  // YCSB's default recordcount is 1,000; 10,000 keeps zipfian's hot keys from being one replica
  // set.
  keys: 10_000,
  // YCSB's records are 10 fields of 100 bytes; one field is the common "small value" of KV benches.
  valueSize: 100,
  distribution: "zipfian" as KeyDistribution,
  concurrency: 64,
  durationS: 30,
  warmupS: 2,
  consistency: "quorum",
  // Nodes --local starts log warnings only: per-request logs would cost the nodes CPU the bench
  // measures.
  localLogLevel: "warn",
  // Requests spread round-robin over the nodes, as SPEC §6 has always said: the baseline.
  client: "any-node" as BenchClient,
} as const;

/**
 * How requests pick their node (issue 20 §2): `any-node` round-robin over --nodes, or
 * `token-aware`, to a replica of the key, from the ring the client library reads (src/client/).
 */
export type BenchClient = "token-aware" | "any-node";
export const BENCH_CLIENTS: readonly BenchClient[] = ["token-aware", "any-node"];

export type BenchTarget =
  | { readonly kind: "nodes"; readonly urls: readonly string[] }
  | {
      readonly kind: "local";
      readonly nodeCount: number;
      /** null: find free ports. */
      readonly basePort: number | null;
      /**
       * Node options passed to every local node, as `grapevine dev` takes them (camelCase keys).
       */
      readonly nodeValues: Readonly<Record<string, string>>;
    };

export interface BenchOptions {
  readonly target: BenchTarget;
  readonly workload: Workload;
  readonly keys: number;
  readonly valueSize: number;
  readonly distribution: KeyDistribution;
  readonly concurrency: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly w: string;
  readonly r: string;
  readonly json: boolean;
  readonly seed: number;
  readonly load: boolean;
  readonly targetRate: number | null;
  readonly client: BenchClient;
  /**
   * true/false when --progress/--no-progress was given; null: show it when stderr is a terminal.
   */
  readonly progress: boolean | null;
}

function text(values: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function integerFlag(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const trimmed = raw.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      flag,
      `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function secondsFlag(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const trimmed = raw.trim();
  const value = Number(trimmed);
  if (!/^\d+(\.\d+)?$/.test(trimmed) || value < min || value > max) {
    const lower = min === 0 ? "from 0" : "greater than 0";
    throw new ConfigError(
      flag,
      `${flag} must be a number of seconds ${lower} and at most ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function choiceFlag<T extends string>(
  flag: string,
  raw: string | undefined,
  fallback: T,
  choices: readonly T[],
): T {
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase();
  const found = choices.find((choice) => choice === value);
  if (found === undefined) {
    throw new ConfigError(
      flag,
      `${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`,
    );
  }
  return found;
}

/** SPEC §2's `w`/`r`: one, quorum, all, or a replica count up to `replicasMax`. */
export function parseConsistencyFlag(
  flag: string,
  raw: string | undefined,
  replicasMax: number,
): string {
  if (raw === undefined) return BENCH_DEFAULTS.consistency;
  const value = raw.trim().toLowerCase();
  if (value === "one" || value === "quorum" || value === "all") return value;
  if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= replicasMax)
    return String(Number(value));
  throw new ConfigError(
    flag,
    `${flag} must be one, quorum, all or a number from 1 to ${replicasMax}, got ${JSON.stringify(raw)}`,
  );
}

/** `http://host:port` origins from `--nodes a,b,…` (a bare HOST:PORT is taken as http://). */
export function parseNodeUrls(raw: string): string[] {
  const parts = raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0 || parts.length > BENCH_LIMITS.nodeUrlsMax) {
    throw new ConfigError(
      "--nodes",
      `--nodes must list 1 to ${BENCH_LIMITS.nodeUrlsMax} node URLs, got ${JSON.stringify(raw)}`,
    );
  }
  const urls: string[] = [];
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(part) ? part : `http://${part}`);
    } catch {
      throw new ConfigError(
        "--nodes",
        `--nodes must be comma-separated URLs like http://127.0.0.1:7001, got ${JSON.stringify(part)}`,
      );
    }
    if (
      (url.protocol !== "http:" && url.protocol !== "https:") ||
      (url.pathname !== "/" && url.pathname !== "") ||
      url.search !== ""
    ) {
      throw new ConfigError(
        "--nodes",
        `--nodes takes http:// or https:// node origins without a path, got ${JSON.stringify(part)}`,
      );
    }
    if (urls.includes(url.origin))
      throw new ConfigError("--nodes", `--nodes names ${url.origin} twice`);
    urls.push(url.origin);
  }
  return urls;
}

/** Where the bench sends its load, and the bounds that target puts on the value size and levels. */
interface TargetChoice {
  readonly target: BenchTarget;
  readonly valueSizeMax: number;
  readonly replicasMax: number;
}

/** --nodes or --local (with the node options a local cluster takes), validated. */
function parseBenchTarget(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
): TargetChoice {
  const nodesRaw = text(values, "nodes");
  const localRaw = text(values, "local");
  const basePortRaw = text(values, "basePort");
  const nodeOptions = collectNodeOptions(values, DEV_PASS_THROUGH_OPTIONS);
  const nodeValues: Record<string, string> = Object.fromEntries(
    Object.entries(nodeOptions).map(([name, value]) => [optionAttribute(name), value]),
  );
  const aliasesGiven: string[] = [];
  for (const { alias } of nodeOptionAliases(DEV_PASS_THROUGH_OPTIONS)) {
    const raw = text(values, optionAttribute(alias));
    if (raw === undefined) continue;
    nodeValues[optionAttribute(alias)] = raw;
    aliasesGiven.push(`--${alias}`);
  }
  const nodeFlagsGiven = [...Object.keys(nodeOptions).map((name) => `--${name}`), ...aliasesGiven];

  let target: BenchTarget;
  let valueSizeMax: number = BENCH_LIMITS.remoteValueSizeMax;
  let replicasMax: number = REPLICATION_FACTOR_MAX;
  if (localRaw !== undefined) {
    if (nodesRaw !== undefined)
      throw new ConfigError(
        "--local",
        "--local starts its own nodes; give --nodes or --local, not both",
      );
    const nodeCount = integerFlag("--local", localRaw, 0, 1, BENCH_LIMITS.localNodesMax);
    const basePort =
      basePortRaw === undefined
        ? null
        : integerFlag("--base-port", basePortRaw, 0, 1, 65_536 - nodeCount);
    if (nodeValues["logLevel"] === undefined && env["GRAPEVINE_LOG_LEVEL"] === undefined) {
      nodeValues["logLevel"] = BENCH_DEFAULTS.localLogLevel;
    }
    // The nodes' own options, validated as the nodes will (id, listen and data dir are the
    // bench's).
    const config = parseStartConfig(
      { ...nodeValues, listen: "127.0.0.1:1", dataDir: "unused" },
      env,
    );
    valueSizeMax = config.maxValueBytes;
    replicasMax = config.replicationFactor;
    target = { kind: "local", nodeCount, basePort, nodeValues: Object.freeze({ ...nodeValues }) };
  } else {
    if (basePortRaw !== undefined)
      throw new ConfigError("--base-port", "--base-port only applies with --local");
    const [flag] = nodeFlagsGiven;
    if (flag !== undefined)
      throw new ConfigError(flag, `${flag} is a node option; it only applies with --local`);
    target = {
      kind: "nodes",
      urls: nodesRaw !== undefined ? parseNodeUrls(nodesRaw) : [resolveNodeUrl(undefined, env)],
    };
  }
  return { target, valueSizeMax, replicasMax };
}

function parseWorkload(raw: string | undefined): BenchOptions["workload"] {
  const name = (raw ?? BENCH_DEFAULTS.workload).trim().toLowerCase();
  if (!isWorkloadName(name)) {
    throw new ConfigError(
      "--workload",
      `--workload must be one of a, b, c, w, got ${JSON.stringify(raw)}`,
    );
  }
  return WORKLOADS[name];
}

/** Validates every bench flag (commander's camelCase values) into BenchOptions. */
export function parseBenchOptions(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
): BenchOptions {
  const { target, valueSizeMax, replicasMax } = parseBenchTarget(values, env);

  const targetRateRaw = text(values, "targetRate");
  const seedRaw = text(values, "seed");
  const progress = values["progress"];
  const client = choiceFlag(
    "--client",
    text(values, "client"),
    BENCH_DEFAULTS.client,
    BENCH_CLIENTS,
  );
  const options: BenchOptions = {
    target,
    client,
    workload: parseWorkload(text(values, "workload")),
    keys: integerFlag("--keys", text(values, "keys"), BENCH_DEFAULTS.keys, 1, BENCH_LIMITS.keysMax),
    valueSize: integerFlag(
      "--value-size",
      text(values, "valueSize"),
      BENCH_DEFAULTS.valueSize,
      1,
      valueSizeMax,
    ),
    distribution: choiceFlag(
      "--distribution",
      text(values, "distribution"),
      BENCH_DEFAULTS.distribution,
      KEY_DISTRIBUTIONS,
    ),
    concurrency: integerFlag(
      "--concurrency",
      text(values, "concurrency"),
      BENCH_DEFAULTS.concurrency,
      1,
      BENCH_LIMITS.concurrencyMax,
    ),
    durationS: secondsFlag(
      "--duration",
      text(values, "duration"),
      BENCH_DEFAULTS.durationS,
      Number.MIN_VALUE,
      BENCH_LIMITS.durationSMax,
    ),
    warmupS: secondsFlag(
      "--warmup",
      text(values, "warmup"),
      BENCH_DEFAULTS.warmupS,
      0,
      BENCH_LIMITS.warmupSMax,
    ),
    w: parseConsistencyFlag("--w", text(values, "w"), replicasMax),
    r: parseConsistencyFlag("--r", text(values, "r"), replicasMax),
    json: values["json"] === true,
    seed:
      seedRaw === undefined
        ? randomInt(0, BENCH_LIMITS.seedMax)
        : integerFlag("--seed", seedRaw, 0, 0, BENCH_LIMITS.seedMax),
    load: values["load"] !== false,
    targetRate:
      targetRateRaw === undefined
        ? null
        : integerFlag("--target-rate", targetRateRaw, 0, 1, BENCH_LIMITS.targetRateMax),
    progress: typeof progress === "boolean" ? progress : null,
  };
  return Object.freeze(options);
}
