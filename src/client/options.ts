// client/options.ts — what `new Grapevine(options)` takes, its defaults and bounds, validated once.
//
// Options are grouped by concern (where to connect, how to route, how to retry) so the ones
// still to come (TLS and tokens; contexts and siblings; TTL; listing) join as new fields
// without changing the meaning of any present one. A bad option is a TypeError naming it, thrown
// by the constructor.

import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import type { ClientTransport } from "./transport.js";

/** SPEC §2's consistency levels: a name or a replica count from 1 to the replication factor. */
export type Consistency = "one" | "quorum" | "all" | number;

/**
 * `token-aware`: each request goes to a live replica of its key, which coordinates it without a
 * hop to another node. `any-node`: requests go round-robin over the live nodes (the node forwards).
 */
export type Routing = "token-aware" | "any-node";

/** A member as the ring describes it: its id and the `host:port` it advertises. */
export interface AdvertisedNode {
  readonly id: string;
  readonly address: string;
}

/**
 * Maps a member's advertised address to the base URL this client reaches it at (`http://h:p`), for
 * members whose advertised address the client cannot reach: a docker-compose service name, seen
 * from the host through a published port. Returns undefined to leave the member out.
 */
export type AddressTranslator = (node: AdvertisedNode) => string | undefined;

export interface RetryOptions {
  /** Attempts per call, the first included. */
  readonly attempts?: number;
  /** Backoff before retry n is drawn uniformly from [0, min(maxDelayMs, baseDelayMs · 2^n)). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * TLS toward nodes served with --certs-dir (issue 18 §2), PEM text or bytes: `ca` the cluster's CA
 * certificate (ca.crt) to verify the nodes by, `cert` and `key` a client certificate and its key
 * (client.NAME.crt/.key) for the routes that ask for one. The nodes' URLs are https://.
 */
export interface ClientTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface GrapevineOptions {
  /** Base URLs of the nodes to learn the ring from, e.g. `["http://127.0.0.1:7001"]`. */
  readonly nodes: readonly string[];
  readonly routing?: Routing;
  readonly addressTranslator?: AddressTranslator;
  /** Defaults for calls that name none; absent: the node's --read/--write-consistency. */
  readonly readConsistency?: Consistency;
  readonly writeConsistency?: Consistency;
  /** A call's deadline, all attempts and backoff included. */
  readonly deadlineMs?: number;
  /** One attempt's time to an answer (within the deadline). */
  readonly attemptTimeoutMs?: number;
  readonly retry?: RetryOptions;
  /** How often the ring is read again; it is also read again soon after a node fails a request. */
  readonly ringRefreshMs?: number;
  /** Keep-alive connections per node. */
  readonly connectionsPerNode?: number;
  readonly tls?: ClientTlsOptions;
  /**
   * A bearer token (`gv_<id>_<secret>`, from `grapevine token create`) sent with every request to
   * nodes that authenticate clients (issue 18 §3); read it from a file or the environment.
   */
  readonly token?: string;
  /** For tests and simulations: the clock, the chance of jitter and spread, the transport. */
  readonly clock?: Clock;
  readonly random?: Random;
  readonly transport?: ClientTransport;
}

export const CLIENT_DEFAULTS = {
  routing: "token-aware" as Routing,
  // Longer than a node's default --request-timeout-ms (2 s) with room for two more attempts.
  deadlineMs: 10_000,
  attemptTimeoutMs: 3_000,
  attempts: 4,
  baseDelayMs: 25,
  maxDelayMs: 1_000,
  // Ring changes are rare and announced by failures; a poll every few seconds keeps replicas fresh.
  ringRefreshMs: 5_000,
  connectionsPerNode: 16,
} as const;

export const CLIENT_LIMITS = {
  /** SPEC §2: keys are 1 to 1024 bytes of UTF-8. */
  keyBytesMax: 1024,
  nodesMax: 256,
  attemptsMax: 100,
  deadlineMsMax: 3_600_000,
  connectionsPerNodeMax: 4_096,
  /** Refreshing more often than this is load on the cluster, not freshness. */
  ringRefreshMsMin: 100,
  /** After a failure the ring is read again at most this often. */
  failureRefreshMinMs: 1_000,
  /** A node that refused a connection or timed out is tried last for this long. */
  suspectMs: 5_000,
} as const;

export interface ResolvedOptions {
  readonly seeds: readonly string[];
  readonly routing: Routing;
  readonly addressTranslator: AddressTranslator;
  readonly readConsistency: Consistency | undefined;
  readonly writeConsistency: Consistency | undefined;
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly ringRefreshMs: number;
  readonly connectionsPerNode: number;
  readonly tls: ClientTlsOptions | undefined;
  readonly token: string | undefined;
}

function bad(option: string, why: string): TypeError {
  return new TypeError(`Grapevine option ${option}: ${why}`);
}

function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw bad(option, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

/** A base URL: http(s), a host, no path beyond `/`; returned without a trailing slash. */
export function baseUrlOf(option: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(option, `not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw bad(option, `must be http:// or https://, got ${JSON.stringify(text)}`);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "")
    throw bad(option, `must be a base URL without a path, got ${JSON.stringify(text)}`);
  return url.origin;
}

function checkConsistency(option: string, level: Consistency | undefined): void {
  if (level === undefined || level === "one" || level === "quorum" || level === "all") return;
  if (typeof level === "number" && Number.isSafeInteger(level) && level >= 1) return;
  throw bad(option, `must be one, quorum, all or a positive count, got ${String(level)}`);
}

/** The default translator: the advertised `host:port` with the first seed's scheme. */
export function sameSchemeTranslator(scheme: string): AddressTranslator {
  return (node) => `${scheme}//${node.address}`;
}

export function resolveOptions(options: GrapevineOptions): ResolvedOptions {
  // Checked as unknown: an application in JavaScript passes whatever it has.
  const nodes: unknown = options.nodes;
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > CLIENT_LIMITS.nodesMax)
    throw bad("nodes", `give 1 to ${CLIENT_LIMITS.nodesMax} base URLs`);
  const seeds = (nodes as unknown[]).map((node, index) =>
    baseUrlOf(`nodes[${index}]`, typeof node === "string" ? node : ""),
  );
  const routing: unknown = options.routing ?? CLIENT_DEFAULTS.routing;
  if (routing !== "token-aware" && routing !== "any-node")
    throw bad("routing", `must be token-aware or any-node, got ${String(routing)}`);
  checkConsistency("readConsistency", options.readConsistency);
  checkConsistency("writeConsistency", options.writeConsistency);
  const retry = options.retry ?? {};
  const { deadlineMsMax } = CLIENT_LIMITS;
  const baseDelayMs = integerIn(
    "retry.baseDelayMs",
    retry.baseDelayMs ?? CLIENT_DEFAULTS.baseDelayMs,
    1,
    deadlineMsMax,
  );
  const maxDelayMs = retry.maxDelayMs ?? CLIENT_DEFAULTS.maxDelayMs;
  const token: unknown = options.token;
  // Printable ASCII without spaces: what an Authorization header can carry as it is.
  if (token !== undefined && (typeof token !== "string" || !/^[\x21-\x7e]{1,1024}$/.test(token)))
    throw bad("token", "must be the token's text, gv_<id>_<secret>");
  return {
    token,
    seeds,
    routing,
    addressTranslator:
      options.addressTranslator ?? sameSchemeTranslator(new URL(seeds[0] as string).protocol),
    readConsistency: options.readConsistency,
    writeConsistency: options.writeConsistency,
    deadlineMs: integerIn(
      "deadlineMs",
      options.deadlineMs ?? CLIENT_DEFAULTS.deadlineMs,
      1,
      deadlineMsMax,
    ),
    attemptTimeoutMs: integerIn(
      "attemptTimeoutMs",
      options.attemptTimeoutMs ?? CLIENT_DEFAULTS.attemptTimeoutMs,
      1,
      deadlineMsMax,
    ),
    attempts: integerIn(
      "retry.attempts",
      retry.attempts ?? CLIENT_DEFAULTS.attempts,
      1,
      CLIENT_LIMITS.attemptsMax,
    ),
    baseDelayMs,
    maxDelayMs: integerIn("retry.maxDelayMs", maxDelayMs, baseDelayMs, deadlineMsMax),
    ringRefreshMs: integerIn(
      "ringRefreshMs",
      options.ringRefreshMs ?? CLIENT_DEFAULTS.ringRefreshMs,
      CLIENT_LIMITS.ringRefreshMsMin,
      deadlineMsMax,
    ),
    connectionsPerNode: integerIn(
      "connectionsPerNode",
      options.connectionsPerNode ?? CLIENT_DEFAULTS.connectionsPerNode,
      1,
      CLIENT_LIMITS.connectionsPerNodeMax,
    ),
    tls: checkTls(options.tls),
  };
}

function checkTls(tls: ClientTlsOptions | undefined): ClientTlsOptions | undefined {
  if (tls === undefined) return undefined;
  for (const field of ["ca", "cert", "key"] as const) {
    const value: unknown = tls[field];
    if (value !== undefined && typeof value !== "string" && !Buffer.isBuffer(value))
      throw bad(`tls.${field}`, "must be PEM text or a Buffer");
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw bad("tls", "cert and key go together");
  return tls;
}

/** A translator from a table of advertised `host:port` to base URL; others are left as they are. */
export function addressTable(
  table: Readonly<Record<string, string>>,
  fallback: AddressTranslator = sameSchemeTranslator("http:"),
): AddressTranslator {
  const urls = new Map(
    Object.entries(table).map(([address, url]) => [address, baseUrlOf(`table[${address}]`, url)]),
  );
  return (node) => urls.get(node.address) ?? fallback(node);
}
