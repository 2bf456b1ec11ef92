// node/options.ts — every node option declared once (SPEC §1 "Node options"). An entry names the
// option's config property; its flag is that name in kebab case (`dataDir` → `--data-dir`) and its
// environment variable the flag upper-cased with a GRAPEVINE_ prefix (`GRAPEVINE_DATA_DIR`). Each
// entry gives the kind of value (which parses and bounds it), the default with why, the help line
// and any alias. From this table come the parser (node/config.ts: flag > variable > default), the
// NodeConfig type (mapped below), the `grapevine start`/`dev`/`bench` help (cli/start.ts) and the
// README's "Node options" table, which a test checks against it both ways. Adding an option is one
// entry here, a row in the README, and the code that uses it.
//
// The order of the entries is the order of the help. Bounds are where a value stops being a choice
// and becomes a typo; the ones other layers must agree with come from core/limits.ts.

import path from "node:path";
import type { Address, NodeId } from "../core/ids.js";
import {
  NODE_ID_BYTES_MAX,
  REPLICATION_FACTOR_MAX,
  VALUE_BYTES_MAX,
  VNODES_MAX,
} from "../core/limits.js";
import {
  address,
  addressList,
  consistency,
  directory,
  optionalDirectory,
  integer,
  integerOrOff,
  nodeId,
  onOff,
  oneOf,
  positiveNumber,
  secret,
  type EarlierValues,
  type OptionKind,
  type RawValue,
  type Resolve,
} from "./option-kinds.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the node writes its log: see node/logger.ts. */
export const LOG_FORMATS = ["auto", "pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A default computed from other options (the id from the advertise address, …). */
export class Derived<T> {
  constructor(
    /** How help and the README show it: `derived from --advertise`. */
    readonly text: string,
    /** The options it is derived from: resolved (and validated) before this one, given or not. */
    readonly from: readonly (keyof EarlierValues)[],
    readonly derive: (resolve: Resolve) => T,
  ) {}
}

export interface OptionDeclaration<T, K = OptionKind<T>> {
  readonly kind: K;
  /** The placeholder in help: `--vnodes <n>`. */
  readonly value: string;
  readonly default: T | Derived<T>;
  /**
   * How help and the README show a constant default, when the kind's format would not say it well.
   */
  readonly defaultText?: string;
  /** The help line, without the default (added from `default`). */
  readonly help: string;
  /** Other flags for the same option (`--rf`). */
  readonly aliases?: readonly string[];
}

/** The type of the values a kind parses. */
export type KindValue<K> = K extends { parse(raw: RawValue, resolve: Resolve): infer T }
  ? T
  : never;

/**
 * Declares one option; its value type comes from the kind, so a default of the wrong type does not
 * compile.
 */
function option<K extends OptionKind<unknown>>(
  declaration: OptionDeclaration<KindValue<K>, K>,
): OptionDeclaration<KindValue<K>, K> {
  return declaration;
}

/**
 * `127.0.0.1:7001` → `node-127-0-0-1-7001`: stable for a given advertise address, and a valid id.
 */
export function deriveNodeId(advertise: Address): NodeId {
  const slug = advertise
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, NODE_ID_BYTES_MAX - "node-".length);
  return `node-${slug}`;
}

export const NODE_OPTIONS = {
  /** This node's name, unique in the cluster. */
  id: option({
    kind: nodeId(NODE_ID_BYTES_MAX),
    value: "id",
    // Stable for a given advertise address, so a node restarted on the same address keeps its name;
    // a derived id yields to the one stored in the data dir (see idExplicit).
    default: new Derived("derived from --advertise", ["advertise"], (resolve) =>
      deriveNodeId(resolve("advertise")),
    ),
    help: "this node's name, unique in the cluster",
  }),
  listen: option({
    kind: address,
    value: "host:port",
    // The SPEC's default port; a second local node is usually 7002, as `grapevine dev` does.
    default: "127.0.0.1:7001",
    help: "where the node serves HTTP",
  }),
  /** The address other nodes use to reach this one. */
  advertise: option({
    kind: address,
    value: "host:port",
    // On one host (or when listening on a routable address) what we listen on is what others dial.
    default: new Derived("--listen", ["listen"], (resolve) => resolve("listen")),
    help: "the address other nodes use to reach this one",
  }),
  seeds: option({
    kind: addressList(64), // More seeds than this is a misconfiguration: gossip needs only a few.
    value: "a,b,...",
    // None: a node without seeds forms a cluster of one.
    default: [],
    defaultText: "none",
    help: "HOST:PORT addresses to contact at start and now and then",
  }),
  dataDir: option({
    kind: directory,
    value: "dir",
    // One directory per id, so several local nodes can share a working directory.
    default: new Derived("./data/<id>", ["id"], (resolve) =>
      path.resolve(path.join("data", resolve("id"))),
    ),
    help: "LevelDB and node state",
  }),
  replicationFactor: option({
    kind: integer(1, REPLICATION_FACTOR_MAX),
    value: "n",
    // Three replicas tolerate one lost replica at quorum reads and writes (Dynamo's N=3, R=W=2).
    default: 3,
    help: "replicas per key",
    aliases: ["rf"],
  }),
  vnodes: option({
    kind: integer(1, VNODES_MAX),
    value: "n",
    // 16 tokens per node spread ownership within a few percent at small N without bloating gossip
    // (Cassandra 4 lowered num_tokens from 256 to 16 for the same reason).
    default: 16,
    help: "tokens per node",
  }),
  readConsistency: option({
    kind: consistency,
    value: "level",
    // Quorum on both sides makes R + W > N, so reads see acknowledged writes (SPEC §4).
    default: "quorum",
    help: "one, quorum, all or a number",
  }),
  writeConsistency: option({
    kind: consistency,
    value: "level",
    default: "quorum", // See readConsistency.
    help: "one, quorum, all or a number",
  }),
  requestTimeoutMs: option({
    kind: integer(1, 600_000), // Ten minutes: a longer deadline is a typo, not a choice.
    value: "ms",
    // Long enough for a loaded replica on a LAN, short enough that a client is not left hanging.
    default: 2_000,
    help: "coordinator's deadline for replica answers",
  }),
  /**
   * The largest wall-clock offset tolerated between two nodes (ms): a timestamp further ahead of
   * this node's clock is refused, and a node this far off from most of its peers stops coordinating
   * writes.
   */
  maxClockOffsetMs: option({
    // Below 10 ms a busy LAN's round trips alone would fence nodes; above an hour the guard guards
    // nothing.
    kind: integer(10, 3_600_000),
    value: "ms",
    // CockroachDB's --max-offset: NTP keeps clocks within a few ms, 500 ms is a clock that is
    // broken.
    default: 500,
    help: "largest clock offset tolerated between nodes; further ahead is refused, a node this far off stops coordinating writes",
  }),
  gossipIntervalMs: option({
    // Under 10 ms gossip is a busy loop; over a minute failures go unseen.
    kind: integer(10, 60_000),
    value: "ms",
    // Cassandra's gossip round: fast enough for seconds-level convergence, cheap at 1,000 nodes.
    default: 1_000,
    help: "one gossip round",
  }),
  phiThreshold: option({
    kind: positiveNumber(1_000), // Phi is -log10 of a probability: 1,000 is never reached.
    value: "phi",
    // Cassandra's phi_convict_threshold; with direct heartbeats this convicts a crash in a few
    // seconds.
    default: 8,
    help: "failure detector's conviction threshold",
  }),
  hintedHandoff: option({
    kind: onOff,
    value: "on|off",
    // Hints keep short outages cheap to heal; anti-entropy covers longer ones.
    default: true,
    help: "store hints for down replicas and replay them",
  }),
  hintBeforeAck: option({
    kind: onOff,
    value: "on|off",
    // Issue 21 §4: a coordinator killed right after answering keeps the hints of the replicas that
    // had not answered yet; measured in bench/hint-before-ack.ts.
    default: false,
    help: "commit hints for replicas that have not answered before acknowledging a write",
  }),
  sloppyQuorum: option({
    kind: onOff,
    value: "on|off",
    // Issue 16 §4: off keeps SPEC §4's read-your-quorum-writes promise (pw = w, pr = r); on is
    // Dynamo's always-writeable store (pw = pr = 0 unless a request names them).
    default: false,
    help: "let writes and reads count fallback nodes for down replicas by default (pw=pr=0)",
  }),
  fallbackBytesMax: option({
    kind: integer(0, Number.MAX_SAFE_INTEGER),
    value: "bytes",
    // 256 MiB: a few minutes of a busy primary's writes; 0 makes this node hold no fallbacks.
    default: 256 * 1024 * 1024,
    help: "most bytes this node holds as fallback copies for down replicas",
  }),
  hintWindowS: option({
    kind: integer(0, 30 * 24 * 3600), // A month: older hints are better left to anti-entropy.
    value: "s",
    // Cassandra's max_hint_window: three hours.
    default: 10_800,
    help: "hints older than this are dropped",
  }),
  /** Seconds between background Merkle exchanges, or null when turned off. */
  antiEntropyIntervalS: option({
    kind: integerOrOff(1, 7 * 24 * 3600), // A week: rarer than that, repair is a manual task.
    value: "s|off",
    // Ten minutes between Merkle exchanges: repair traffic stays small against client traffic.
    default: 600,
    help: "background Merkle exchange interval",
  }),
  maxValueBytes: option({
    kind: integer(1, VALUE_BYTES_MAX),
    value: "bytes",
    // 1 MiB: a KV store, not a blob store; larger values hurt every replica's latency.
    default: 1_048_576,
    help: "larger values are refused with 413",
  }),
  /** Range streaming (ring changes): bytes per second over all of this node's streams. */
  streamBytesPerS: option({
    kind: integer(1, 10 * 1024 * 1024 * 1024), // 10 GiB/s: past any disk and most links.
    value: "bytes",
    // 32 MiB/s of streaming during a ring change: a fraction of a disk's and a LAN's bandwidth, so
    // clients keep their latency (Cassandra's stream_throughput_outbound defaults to 24 MiB/s).
    default: 32 * 1024 * 1024,
    help: "range streaming during ring changes, bytes per second over all streams",
  }),
  /** Range streams this node runs at once. */
  streamsMax: option({
    kind: integer(1, 64),
    value: "n",
    // Two streams at once keep a source and a target busy without letting a change hog a node.
    default: 2,
    help: "range streams run at once",
  }),
  clusterSecret: option({
    kind: secret(1024), // A shared secret, not a document.
    value: "secret",
    // None: node-to-node routes are open, as on a private network; set one anywhere else.
    default: null,
    defaultText: "none",
    help: "node-to-node routes refuse callers without it",
  }),
  certsDir: option({
    kind: optionalDirectory,
    value: "dir",
    // None: plain HTTP, as before TLS (issue 18 §2); secure by default is a later step.
    default: null,
    defaultText: "none (plain HTTP)",
    help: "serve HTTPS and speak mutual TLS to peers with ca.crt, node.crt and node.key from this dir; SIGHUP reloads them",
  }),
  metricsOpen: option({
    kind: onOff,
    value: "on|off",
    // Issue 18 §4: with --certs-dir /metrics needs a reader's credential like every data route;
    // on lets a Prometheus without one scrape it (it holds counts and names, never keys or values).
    default: false,
    help: "with --certs-dir, serve GET /metrics without a token or client certificate",
  }),
  sync: option({
    kind: onOff,
    value: "on|off",
    // Like Cassandra's commitlog_sync periodic: the log is written before acknowledging, fsync
    // batched.
    default: false,
    help: "fsync before a replica acknowledges",
  }),
  logLevel: option({
    kind: oneOf(LOG_LEVELS),
    value: "level",
    // Start-up, membership changes and errors: quiet enough to leave on in production.
    default: "info",
    help: "fatal, error, warn, info, debug, trace or silent",
  }),
  logFormat: option({
    kind: oneOf(LOG_FORMATS),
    value: "auto|pretty|json",
    // A person at a terminal reads lines; a pipe, a file or a collector wants JSON to parse.
    default: "auto",
    help: "pretty: readable coloured lines; json: one JSON object a line; auto: pretty on a terminal, else json",
  }),
};

export type NodeOptionKey = keyof typeof NODE_OPTIONS;

/** The type of each option's value, from its declaration. */
export type NodeOptionValues = {
  readonly [K in NodeOptionKey]: KindValue<(typeof NODE_OPTIONS)[K]["kind"]>;
};

/** `dataDir` → `data-dir`, at the type level. */
type Kebab<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `-${Lowercase<Head>}`}${Kebab<Tail>}`
  : S;

/** A flag's name without dashes: `data-dir`. */
export type NodeOptionName = Kebab<NodeOptionKey>;

export function optionName<K extends NodeOptionKey>(key: K): Kebab<K> {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`) as Kebab<K>;
}

/** `data-dir` → `GRAPEVINE_DATA_DIR` (SPEC §1). */
export function envName(option: NodeOptionName): string {
  return `GRAPEVINE_${option.toUpperCase().replace(/-/g, "_")}`;
}

/** The keys in declaration order. */
export const NODE_OPTION_KEYS = Object.keys(NODE_OPTIONS) as readonly NodeOptionKey[];

/** The flags' names in declaration order (the help's order). */
export const NODE_OPTION_NAMES: readonly NodeOptionName[] = NODE_OPTION_KEYS.map(optionName);

const KEY_OF_NAME = new Map<string, NodeOptionKey>(
  NODE_OPTION_KEYS.map((key) => [optionName(key), key]),
);

export function optionKey(name: NodeOptionName): NodeOptionKey {
  const key = KEY_OF_NAME.get(name);
  if (key === undefined) throw new TypeError(`no node option --${name}`);
  return key;
}

/** The declaration behind a flag, loosely typed for code that treats all options alike. */
export function declarationOf(name: NodeOptionName): OptionDeclaration<unknown> {
  return NODE_OPTIONS[optionKey(name)];
}

/** How help and the README show an option's default. */
export function defaultText(declaration: OptionDeclaration<unknown>): string {
  if (declaration.default instanceof Derived) return declaration.default.text;
  return declaration.defaultText ?? declaration.kind.format(declaration.default) ?? "none";
}

/** The help line of a flag: its help, then its default and aliases. */
export function helpLine(name: NodeOptionName): string {
  const declaration = declarationOf(name);
  const aliases = (declaration.aliases ?? []).map((alias) => `; --${alias} for short`).join("");
  return `${declaration.help} (default: ${defaultText(declaration)}${aliases})`;
}
