// api/kv-routes.ts — the client API of SPEC §2: `PUT`, `GET` and `DELETE /kv/:key`.
//
// Keys. A key is 1 to 1024 bytes of UTF-8, percent-encoded in the path. The routes take the key
// from the raw request line, not from the router's decoded parameter, so that what a client encoded
// is exactly what is stored: `a%2Fb` is the key `a/b` on this route (a literal `/` in the key part
// is refused rather than guessed at), `%25` is `%`, `%20` a space, `%F0%9F%8D%87` a grape.
// Malformed percent-encoding and encoded lone surrogates (which are not UTF-8) are refused with 400
// `bad_key`; the router refuses them first, and frameworkErrorHandler gives that refusal the same
// body. Characters outside visible ASCII must be percent-encoded.
//
// Values are opaque bytes of any content type: the plugin replaces fastify's body parsers with one
// that keeps the raw bytes, and the request's Content-Type (application/octet-stream when absent)
// is stored with them and given back on GET. The parser's bodyLimit is --max-value-bytes, which
// fastify enforces on the Content-Length before reading anything, and on a chunked body by counting
// as it streams, stopping at the limit: a too-large value is refused with 413 `value_too_large`
// without ever being buffered whole.
//
// Consistency: `?w=` on PUT and DELETE, `?r=` on GET; one, quorum, all or a count from 1 to the
// replication factor (400 `bad_consistency` otherwise); the node's --write-consistency and
// --read-consistency when absent. A success carries X-Grapevine-Timestamp: the written version's
// timestamp, or the returned version's. Absent and deleted keys are 404 `not_found`. The
// coordinator's refusals (503 `unavailable`, 504 `timeout`, with their details) pass through the
// one error handler (api/errors.ts).
//
// Time to live (issue 17 §3, api/ttl-header.ts): a PUT's X-Grapevine-TTL, else the bucket's
// ttlSeconds, makes the value expire; from its expiry on, by this node's clock (the `nowUs`
// option), a GET answers 404 as for a deleted key, and before it carries the seconds left.

import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from "fastify";
import { GrapevineError } from "../core/errors.js";
import { sendError, toGrapevineError, valueTooLarge } from "../net/fastify-errors.js";
import {
  consistencyToString,
  parseConsistency,
  requiredReplicas,
  type ConsistencyLevel,
} from "../replication/consistency.js";
import type { Coordinator } from "../replication/coordinator.js";
import {
  parsePrimaryLevel,
  requiredPrimaries,
  type PrimaryLevel,
} from "../replication/sloppy-quorum.js";
import {
  BUCKET_KEY_LIMITS,
  bucketNameProblem,
  DEFAULT_BUCKET,
  isReservedDefaultKey,
  storedKeyOf,
} from "../storage/bucket-keys.js";
import type { BucketProps } from "./bucket-props.js";
import { readsAsAbsent } from "../storage/expiry.js";
import { RECORD_LIMITS } from "../storage/record.js";
import { TTL_HEADER, ttlHeaderOf, writeTtlSeconds } from "./ttl-header.js";
import {
  BUCKET_KEY_SCHEMAS,
  KV_SCHEMAS,
  kvParameterError,
  LEVEL_GIVEN_TWICE,
  TIMESTAMP_HEADER,
} from "./kv-schemas.js";

export const KV_PATH_PREFIX = "/kv/";
export const BUCKETS_PATH_PREFIX = "/buckets/";
/** `/buckets/<bucket>/keys/<key>`: the bucket's segment is checked by name, the key's decoded. */
const BUCKET_KEY_PATH = /^\/buckets\/([^/]*)\/keys\/(.*)$/;
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export const KV_LIMITS = {
  /** SPEC §2: the user's key, whatever its bucket. */
  keyBytesMax: BUCKET_KEY_LIMITS.userKeyBytesMax,
  /** What a record can carry (storage/record.ts); a longer Content-Type is refused with 400. */
  contentTypeBytesMax: RECORD_LIMITS.contentTypeBytesMax,
} as const;

/** The routes, as the metrics label them. */
export type KvRoute = "get" | "put" | "delete";

export interface KvRequestObserver {
  /** One finished request: its route, consistency label, HTTP status and duration. */
  observeKvRequest(route: KvRoute, consistency: string, status: number, seconds: number): void;
}

export interface KvRoutesOptions {
  readonly coordinator: Pick<Coordinator, "write" | "delete" | "read">;
  readonly replicationFactor: number;
  readonly readConsistency: ConsistencyLevel;
  readonly writeConsistency: ConsistencyLevel;
  /** --sloppy-quorum: when on, `pw` and `pr` default to 0 instead of `w` and `r`. */
  readonly sloppyQuorum?: boolean;
  /** --max-value-bytes. */
  readonly maxValueBytes: number;
  readonly observer?: KvRequestObserver;
  /**
   * A bucket's properties in effect (api/bucket-book.ts): its default levels and value bound.
   * Absent: the node's settings for every bucket, and no /buckets/ key routes.
   */
  readonly buckets?: { props(bucket: string): BucketProps };
  /** This node's clock in microseconds: whether a value has expired (storage/expiry.ts). */
  readonly nowUs: () => number;
}

const EMPTY_VALUE = Buffer.alloc(0);
/** One shared, immutable answer for every miss: a 404 is routine, not worth a stack trace each. */
const NOT_FOUND = new GrapevineError("not_found", "the key has no value");
/** Characters that may stand unencoded in a key's path segment: visible ASCII. */
const UNENCODED_KEY_CHARACTERS = /^[\x21-\x7e]*$/;

function badKey(message: string, details: Readonly<Record<string, unknown>> = {}): GrapevineError {
  return new GrapevineError("bad_key", message, details);
}

/**
 * The key of a `/kv/<key>` request, from its raw URL (path and query, as on the request line).
 * Throws GrapevineError `bad_key` for an empty, over-long, unencoded or malformed key, and for the
 * one shape of key that spells a bucketed key (storage/bucket-keys.ts).
 */
export function keyFromUrl(url: string): string {
  const path = pathOf(url);
  if (!path.startsWith(KV_PATH_PREFIX))
    throw badKey("a key is addressed as /kv/<percent-encoded key>");
  const key = decodeKey(path.slice(KV_PATH_PREFIX.length));
  if (isReservedDefaultKey(key))
    throw badKey("a key of the form %00<bucket>%00… is reserved: use /buckets/<bucket>/keys/…");
  return key;
}

/** What a key route addresses: the bucket, the user's key, and the key as stored. */
export interface KeyTarget {
  readonly bucket: string;
  readonly key: string;
  readonly stored: string;
}

/**
 * The target of a `/kv/<key>` or `/buckets/<bucket>/keys/<key>` request, from its raw URL. Throws
 * `bad_bucket` for a bad bucket name, `bad_key` for a bad key.
 */
export function targetFromUrl(url: string): KeyTarget {
  const path = pathOf(url);
  if (path.startsWith(KV_PATH_PREFIX)) {
    const key = keyFromUrl(url);
    return { bucket: DEFAULT_BUCKET, key, stored: key };
  }
  const match = BUCKET_KEY_PATH.exec(path);
  if (match === null) throw badKey("a key is addressed as /buckets/<bucket>/keys/<key>");
  const bucket = match[1] ?? "";
  const problem = bucketNameProblem(bucket);
  if (problem !== null) throw new GrapevineError("bad_bucket", problem);
  const key = decodeKey(match[2] ?? "");
  return { bucket, key, stored: storedKeyOf(bucket, key) };
}

function pathOf(url: string): string {
  const queryAt = url.indexOf("?");
  return queryAt < 0 ? url : url.slice(0, queryAt);
}

/** A key from its percent-encoded path segment; bad_key when empty, malformed or over-long. */
function decodeKey(raw: string): string {
  if (raw.length === 0) throw badKey("the key is empty");
  if (raw.includes("/")) throw badKey("a '/' in a key must be percent-encoded as %2F");
  if (!UNENCODED_KEY_CHARACTERS.test(raw))
    throw badKey("characters other than visible ASCII must be percent-encoded");
  let key = raw;
  if (raw.includes("%")) {
    try {
      // Throws on a malformed escape and on bytes that are not UTF-8 (an encoded lone surrogate).
      key = decodeURIComponent(raw);
    } catch {
      throw badKey("the key's percent-encoding is malformed or not UTF-8");
    }
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes < 1 || bytes > KV_LIMITS.keyBytesMax) {
    throw badKey(`the key must be 1 to ${KV_LIMITS.keyBytesMax} bytes of UTF-8, got ${bytes}`, {
      bytes,
    });
  }
  return key;
}

/** The consistency level of `?w=`/`?r=`: the node's default when absent. */
export function levelFromQuery(
  value: unknown,
  fallback: ConsistencyLevel,
  replicationFactor: number,
): ConsistencyLevel {
  if (value === undefined) return fallback;
  if (typeof value !== "string") {
    throw new GrapevineError("bad_consistency", LEVEL_GIVEN_TWICE);
  }
  return parseConsistency(value, replicationFactor);
}

/**
 * `?pw=`/`?pr=` (replication/sloppy-quorum.ts): 0 or a level; absent, the default given (the
 * bucket's, else 0 under --sloppy-quorum on, else undefined: strict). Checked against `w`/`r` by
 * the coordinator.
 */
export function primaryLevelFromQuery(
  value: unknown,
  fallback: PrimaryLevel | undefined,
  replicationFactor: number,
): PrimaryLevel | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "string") {
    throw new GrapevineError("bad_consistency", LEVEL_GIVEN_TWICE);
  }
  return parsePrimaryLevel(value, replicationFactor);
}

/** A request's default levels: the bucket's, else the node's. */
interface LevelDefaults {
  readonly level: ConsistencyLevel;
  /** Undefined: strict (every acknowledgement a primary's). */
  readonly primary: PrimaryLevel | undefined;
}

/** `w` and `pw` (or `r` and `pr`) of a request's query, with the defaults. */
function levelsFromQuery(
  query: Record<string, unknown>,
  kind: "w" | "r",
  defaults: LevelDefaults,
  replicationFactor: number,
): { readonly level: ConsistencyLevel; readonly primaryLevel?: PrimaryLevel } {
  const level = levelFromQuery(query[kind], defaults.level, replicationFactor);
  const given = query[kind === "w" ? "pw" : "pr"];
  let primaryLevel = primaryLevelFromQuery(given, defaults.primary, replicationFactor);
  // A default pw/pr above a level the client lowered is capped at that level, not refused: only a
  // pw/pr the client named itself must fit its w/r.
  if (
    given === undefined &&
    primaryLevel !== undefined &&
    requiredPrimaries(primaryLevel, replicationFactor) > requiredReplicas(level, replicationFactor)
  )
    primaryLevel = level;
  return primaryLevel === undefined ? { level } : { level, primaryLevel };
}

/** The Content-Type to store: the request's, or application/octet-stream. */
export function contentTypeOf(header: string | undefined): string {
  if (header === undefined || header.trim() === "") return DEFAULT_CONTENT_TYPE;
  if (Buffer.byteLength(header, "latin1") > KV_LIMITS.contentTypeBytesMax) {
    throw new GrapevineError(
      "bad_request",
      `the Content-Type is longer than ${KV_LIMITS.contentTypeBytesMax} bytes`,
    );
  }
  return header;
}

/**
 * fastify's `frameworkErrors` option: the router refuses a URL it cannot percent-decode before any
 * route runs; on /kv/ that is a bad key, elsewhere a bad request, in the one error body.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const url = request.url;
  const keyPath = url.startsWith(KV_PATH_PREFIX) || url.startsWith(BUCKETS_PATH_PREFIX);
  if (error.code === "FST_ERR_BAD_URL" && keyPath) {
    void sendError(reply, badKey("the key's percent-encoding is malformed or not UTF-8"));
    return;
  }
  void sendError(
    reply,
    toGrapevineError(error) ?? new GrapevineError("bad_request", error.message),
  );
}

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function routeOf(method: string): KvRoute {
  return method === "PUT" ? "put" : method === "DELETE" ? "delete" : "get";
}

/** Tells the observer of every finished request, labelled by route and (bounded) consistency. */
function observeRequests(app: FastifyInstance, options: KvRoutesOptions): void {
  const { observer, replicationFactor } = options;
  if (observer === undefined) return;
  const readLabel = consistencyToString(options.readConsistency);
  const writeLabel = consistencyToString(options.writeConsistency);

  /** A bounded label: the level as given when valid, else "invalid"; the default when absent. */
  const consistencyLabel = (value: unknown, fallback: string): string => {
    if (value === undefined) return fallback;
    if (typeof value !== "string") return "invalid";
    try {
      return consistencyToString(parseConsistency(value, replicationFactor));
    } catch {
      return "invalid";
    }
  };

  app.addHook("onResponse", (request, reply, done) => {
    const route = routeOf(request.method);
    const query = request.query as Record<string, unknown> | undefined;
    const label =
      route === "get"
        ? consistencyLabel(query?.["r"], readLabel)
        : consistencyLabel(query?.["w"], writeLabel);
    observer.observeKvRequest(route, label, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

export const kvRoutes: FastifyPluginAsync<KvRoutesOptions> = async (app, options) => {
  const bodyLimit = options.maxValueBytes;

  // The schemas check the parameters' shape (kv-schemas.ts); the key and the level themselves are
  // checked by the handlers, and a refusal keeps its code either way.
  const routeOptions = { bodyLimit, schemaErrorFormatter: kvParameterError };

  // Every body is the value, whatever its type: raw bytes, never parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_request, body, done) => {
    done(null, body);
  });

  observeRequests(app, options);

  const paths =
    options.buckets === undefined ? [KV_PATH_PREFIX] : [KV_PATH_PREFIX, BUCKET_KEYS_ROUTE];
  for (const prefix of paths) registerKeyRoutes(app, options, prefix, routeOptions);
};

/** Where the key routes of a bucket are mounted: the key is read from the raw URL. */
const BUCKET_KEYS_ROUTE = "/buckets/:bucket/keys/";

/** PUT, DELETE and GET of one key, at `/kv/*` or `/buckets/:bucket/keys/*`. */
function registerKeyRoutes(
  app: FastifyInstance,
  options: KvRoutesOptions,
  prefix: string,
  routeOptions: { bodyLimit: number; schemaErrorFormatter: typeof kvParameterError },
): void {
  const { coordinator, replicationFactor } = options;
  const sloppy = options.sloppyQuorum ?? false;
  const schemas = prefix === KV_PATH_PREFIX ? KV_SCHEMAS : BUCKET_KEY_SCHEMAS;
  const nodePrimary = sloppy ? 0 : undefined;
  const settings = (bucket: string) => {
    const props = options.buckets?.props(bucket);
    return {
      r: { level: props?.r ?? options.readConsistency, primary: props?.pr ?? nodePrimary },
      w: { level: props?.w ?? options.writeConsistency, primary: props?.pw ?? nodePrimary },
      valueBytesMax: props?.maxValueBytes ?? options.maxValueBytes,
      ttlSeconds: props?.ttlSeconds ?? null,
    };
  };

  app.put(`${prefix}*`, { ...routeOptions, schema: schemas.put }, async (request, reply) => {
    const target = targetFromUrl(request.url);
    const bucket = settings(target.bucket);
    const query = request.query as Record<string, unknown>;
    const levels = levelsFromQuery(query, "w", bucket.w, replicationFactor);
    const contentType = contentTypeOf(request.headers["content-type"]);
    const body = request.body;
    const value = Buffer.isBuffer(body) ? body : EMPTY_VALUE;
    if (value.length > bucket.valueBytesMax) throw valueTooLarge(bucket.valueBytesMax);
    const ttlSeconds = writeTtlSeconds(request.headers[TTL_HEADER], bucket.ttlSeconds);
    const key = target.stored;
    const ttl = ttlSeconds === undefined ? {} : { ttlSeconds };
    const outcome = await coordinator.write({ key, value, contentType, ...levels, ...ttl });
    return reply.code(204).header(TIMESTAMP_HEADER, String(outcome.timestampUs)).send();
  });

  app.delete(`${prefix}*`, { ...routeOptions, schema: schemas.delete }, async (request, reply) => {
    const target = targetFromUrl(request.url);
    const query = request.query as Record<string, unknown>;
    const levels = levelsFromQuery(query, "w", settings(target.bucket).w, replicationFactor);
    const outcome = await coordinator.delete({ key: target.stored, ...levels });
    return reply.code(204).header(TIMESTAMP_HEADER, String(outcome.timestampUs)).send();
  });

  app.get(`${prefix}*`, { ...routeOptions, schema: schemas.get }, async (request, reply) => {
    const target = targetFromUrl(request.url);
    const query = request.query as Record<string, unknown>;
    const levels = levelsFromQuery(query, "r", settings(target.bucket).r, replicationFactor);
    const { record } = await coordinator.read({ key: target.stored, ...levels });
    const nowUs = options.nowUs();
    if (record === undefined || readsAsAbsent(record, nowUs)) return sendError(reply, NOT_FOUND);
    const ttl = ttlHeaderOf(record, nowUs);
    if (ttl !== undefined) void reply.header(TTL_HEADER, ttl);
    return reply
      .code(200)
      .header(TIMESTAMP_HEADER, String(record.timestampUs))
      .header("content-type", record.contentType === "" ? DEFAULT_CONTENT_TYPE : record.contentType)
      .send(asBuffer(record.value));
  });
}
