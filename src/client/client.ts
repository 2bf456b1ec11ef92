// client/client.ts — the Grapevine class: the client library's face (README "Client library").
//
// Each call is checked (the key's length), routed (client/routing.ts: a live replica of the key
// first, when token-aware), and tried until it succeeds, fails for good, runs out of attempts or
// reaches its deadline; between attempts it sleeps the jittered backoff of client/retry-policy.ts,
// which also decides what may be tried again (reads; writes only when refused before they were
// applied). The ring is kept current by client/ring-keeper.ts. The network is the ClientTransport
// port, the time the Clock port and the chance a Random: all injectable, so the decisions are
// tested without sockets or waiting.

import { randomInt } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { GrapevineError } from "../core/errors.js";
import { createRandom, type Random } from "../core/random.js";
import {
  GrapevineClientError,
  GrapevineResponseError,
  parseErrorBody,
  type Applied,
} from "./errors.js";
import {
  CLIENT_LIMITS,
  resolveOptions,
  type Consistency,
  type GrapevineOptions,
  type ResolvedOptions,
} from "./options.js";
import {
  backoffMs,
  mayHaveApplied,
  mayRetry,
  type AttemptEnd,
  type OperationKind,
} from "./retry-policy.js";
import { KEY_PAGE_LIMITS, keyPagePath, parseKeyPage } from "./key-pages.js";
import { RingKeeper } from "./ring-keeper.js";
import { Router } from "./routing.js";
import { systemClock } from "./system-clock.js";
import type { ClientTransport, TransportAnswer, TransportRequest } from "./transport.js";
import { UndiciTransport } from "./undici-transport.js";

/** A stored value, as a read returns it. */
export interface Entry {
  readonly value: Buffer;
  readonly contentType: string;
  /** The version's timestamp (hybrid logical clock, microseconds): X-Grapevine-Timestamp. */
  readonly timestampUs: number;
  /** The whole seconds left of a value written with a time to live; absent: it never expires. */
  readonly ttlSeconds?: number;
}

/** What an acknowledged write (or delete) returns. */
export interface Written {
  readonly timestampUs: number;
}

export interface CallOptions {
  /** This call's deadline, all attempts included; default the client's deadlineMs. */
  readonly deadlineMs?: number;
}

export interface ReadOptions extends CallOptions {
  readonly r?: Consistency;
}

export interface WriteOptions extends CallOptions {
  readonly w?: Consistency;
}

export interface PutOptions extends WriteOptions {
  /** Stored with the value and given back by reads; default application/octet-stream. */
  readonly contentType?: string;
  /**
   * The value expires this many whole seconds after the write (X-Grapevine-TTL; at most ten
   * years); 0: never, even in a bucket with a time to live. Absent: the bucket's, if any.
   */
  readonly ttlSeconds?: number;
}

/** X-Grapevine-TTL at most: ten years, as the node takes it. */
const TTL_SECONDS_MAX = 315_360_000;

export interface KeysOptions extends ReadOptions {
  /** Keys per request; default KEY_PAGE_LIMITS.pageKeysDefault (1000), at most 10000. */
  readonly pageKeys?: number;
}

const DEFAULT_CONTENT_TYPE = "application/octet-stream";

function kvPath(key: string, name: "r" | "w", level: Consistency | undefined): string {
  const query = level === undefined ? "" : `?${name}=${encodeURIComponent(String(level))}`;
  return `/kv/${encodeURIComponent(key)}${query}`;
}

function checkKey(key: string): void {
  const bytes = typeof key === "string" ? Buffer.byteLength(key, "utf8") : 0;
  if (bytes < 1 || bytes > CLIENT_LIMITS.keyBytesMax)
    throw new GrapevineError(
      "bad_key",
      `the key must be 1 to ${CLIENT_LIMITS.keyBytesMax} bytes of UTF-8, got ${bytes}`,
      { bytes },
    );
}

function timestampOf(answer: TransportAnswer): number {
  const value = Number(answer.timestamp);
  return Number.isSafeInteger(value) ? value : 0;
}

/** One call's course: its deadline, attempts so far, whether anything may have been applied. */
interface Course {
  readonly operation: OperationKind;
  readonly deadlineAtMs: number;
  attempts: number;
  applied: Applied;
  last: Error | null;
}

export class Grapevine {
  readonly #options: ResolvedOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #transport: ClientTransport;
  readonly #keeper: RingKeeper;
  readonly #router: Router;
  readonly #ready: Promise<unknown>;
  #closed = false;

  constructor(options: GrapevineOptions) {
    this.#options = resolveOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? createRandom(randomInt(0x1_0000_0000));
    this.#transport =
      options.transport ??
      new UndiciTransport({
        connectionsPerNode: this.#options.connectionsPerNode,
        connectTimeoutMs: this.#options.attemptTimeoutMs,
        tls: this.#options.tls,
        token: this.#options.token,
      });
    this.#keeper = new RingKeeper({
      seeds: this.#options.seeds,
      translate: this.#options.addressTranslator,
      transport: this.#transport,
      clock: this.#clock,
      refreshMs: this.#options.ringRefreshMs,
      timeoutMs: this.#options.attemptTimeoutMs,
    });
    this.#router = new Router(this.#options.routing, this.#options.seeds, this.#random);
    // Both routings learn the members; only token-aware uses the tokens.
    this.#ready = this.#keeper.refresh();
  }

  /** Resolves once the first read of the ring has finished (calls wait for it anyway). */
  async connect(): Promise<void> {
    await this.#ready;
  }

  /** The members as this client last read them (empty before the ring is known). */
  members(): readonly { readonly id: string; readonly url: string; readonly live: boolean }[] {
    return this.#keeper.snapshot?.members ?? [];
  }

  /** The base URLs of the key's replicas, primary first, as this client knows the ring. */
  replicasOf(key: string): string[] {
    return (this.#keeper.snapshot?.replicasOf(key) ?? []).map((member) => member.url);
  }

  /** The value of the key, or null when it is absent or deleted. */
  async get(key: string, options: ReadOptions = {}): Promise<Entry | null> {
    checkKey(key);
    const level = options.r ?? this.#options.readConsistency;
    const answer = await this.#call(
      "read",
      key,
      { method: "GET", path: kvPath(key, "r", level) },
      options,
    );
    if (answer.status === 404) return null;
    const ttlSeconds = answer.ttl === undefined ? Number.NaN : Number(answer.ttl);
    return {
      value: answer.body,
      contentType: answer.contentType ?? DEFAULT_CONTENT_TYPE,
      timestampUs: timestampOf(answer),
      ...(Number.isSafeInteger(ttlSeconds) && ttlSeconds >= 0 ? { ttlSeconds } : {}),
    };
  }

  /** Stores the value (a string is stored as its UTF-8 bytes) on at least `w` replicas. */
  async put(key: string, value: string | Uint8Array, options: PutOptions = {}): Promise<Written> {
    checkKey(key);
    const level = options.w ?? this.#options.writeConsistency;
    const body = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    const ttl = options.ttlSeconds;
    if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 0 || ttl > TTL_SECONDS_MAX))
      throw new GrapevineError(
        "bad_ttl",
        `ttlSeconds must be a whole number of seconds from 0 to ${TTL_SECONDS_MAX}`,
        { secondsMax: TTL_SECONDS_MAX },
      );
    const request: Omit<TransportRequest, "timeoutMs"> = {
      method: "PUT",
      path: kvPath(key, "w", level),
      body,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      ...(ttl === undefined ? {} : { ttlSeconds: ttl }),
    };
    const answer = await this.#call("write", key, request, options);
    return { timestampUs: timestampOf(answer) };
  }

  /** Deletes the key: a tombstone on at least `w` replicas. */
  async delete(key: string, options: WriteOptions = {}): Promise<Written> {
    checkKey(key);
    const level = options.w ?? this.#options.writeConsistency;
    const request = { method: "DELETE", path: kvPath(key, "w", level) } as const;
    const answer = await this.#call("write", key, request, options);
    return { timestampUs: timestampOf(answer) };
  }

  /**
   * The bucket's live keys, page by page (`pageKeys` per request, at `r`), as an async iterator:
   * `for await (const key of db.keys("photos"))`. Holds one page at a time; a page is retried as a
   * read is, and stopping the loop early sends no more requests.
   */
  async *keys(bucket: string, options: KeysOptions = {}): AsyncGenerator<string> {
    const pageKeys = options.pageKeys ?? KEY_PAGE_LIMITS.pageKeysDefault;
    if (!Number.isInteger(pageKeys) || pageKeys < 1 || pageKeys > KEY_PAGE_LIMITS.pageKeysMax)
      throw new GrapevineError(
        "bad_request",
        `pageKeys must be an integer from 1 to ${KEY_PAGE_LIMITS.pageKeysMax}`,
      );
    const r = options.r ?? this.#options.readConsistency;
    let after: string | null = null;
    do {
      const path = keyPagePath(bucket, { pageKeys, after, r });
      // Routed as a read of the bucket name: listings of other buckets start on other nodes.
      const answer = await this.#call("read", bucket, { method: "GET", path }, options);
      const page = parseKeyPage(answer.body.toString("utf8"));
      yield* page.keys;
      after = page.next;
    } while (after !== null);
  }

  /** Stops the ring refreshes and closes every connection; later calls fail with `closed`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keeper.close();
    await this.#transport.close();
  }

  /** Tries the request until a final answer (2xx, 404), throwing anything else. */
  async #call(
    operation: OperationKind,
    key: string,
    request: Omit<TransportRequest, "timeoutMs">,
    options: CallOptions,
  ): Promise<TransportAnswer> {
    const deadlineMs = options.deadlineMs ?? this.#options.deadlineMs;
    const course: Course = {
      operation,
      deadlineAtMs: this.#clock.nowMs() + deadlineMs,
      attempts: 0,
      applied: "no",
      last: null,
    };
    await this.#untilReady(deadlineMs);
    const plan = this.#router.plan(this.#keeper.snapshot, key, this.#clock.nowMs());
    for (;;) {
      if (this.#closed)
        throw new GrapevineClientError(
          "closed",
          "the client is closed",
          course.applied,
          course.attempts,
        );
      const url = plan[course.attempts % plan.length] as string;
      const remainingMs = course.deadlineAtMs - this.#clock.nowMs();
      if (remainingMs <= 0) throw this.#deadline(course);
      const timeoutMs = Math.min(this.#options.attemptTimeoutMs, remainingMs);
      course.attempts++;
      const result = await this.#transport.send(url, { ...request, timeoutMs });
      const end: AttemptEnd = result.ok
        ? { kind: "answer", status: result.answer.status }
        : { kind: "failure", failure: result.failure };
      if (result.ok && (result.answer.status < 300 || result.answer.status === 404)) {
        this.#router.cleared(url);
        return result.answer;
      }
      await this.#failed(course, url, end, result.ok ? result.answer : null);
    }
  }

  /**
   * Waits for the first read of the ring, but at most half the call's deadline: seeds that do not
   * answer it leave the call the other half to try them itself, with its own attempts and errors.
   */
  async #untilReady(deadlineMs: number): Promise<void> {
    let cancel = (): void => undefined;
    const late = new Promise<void>((resolve) => {
      cancel = this.#clock.schedule(deadlineMs / 2, resolve);
    });
    await Promise.race([this.#ready, late]);
    cancel();
  }

  /** Records a failed attempt; throws when the call must end, else sleeps the backoff. */
  async #failed(
    course: Course,
    url: string,
    end: AttemptEnd,
    answer: TransportAnswer | null,
  ): Promise<void> {
    if (mayHaveApplied(end)) course.applied = "unknown";
    course.last = this.#errorOf(course, url, end, answer);
    const refused = end.kind === "failure" || end.status >= 500 || end.status === 408;
    if (refused) {
      this.#router.suspect(url, this.#clock.nowMs());
      this.#keeper.refreshSoon();
    }
    if (!mayRetry(course.operation, end) || course.attempts >= this.#options.attempts)
      throw course.last;
    const delayMs = backoffMs(this.#options, course.attempts, this.#random);
    if (this.#clock.nowMs() + delayMs >= course.deadlineAtMs) throw this.#deadline(course);
    await new Promise<void>((resolve) => this.#clock.schedule(delayMs, resolve));
  }

  #errorOf(course: Course, url: string, end: AttemptEnd, answer: TransportAnswer | null): Error {
    if (end.kind === "failure") {
      const { kind, detail } = end.failure;
      return new GrapevineClientError(kind, `${url}: ${detail}`, course.applied, course.attempts);
    }
    const status = end.status;
    const { code, message, details } = parseErrorBody(status, answer?.body.toString("utf8") ?? "");
    return new GrapevineResponseError(code, message, details, url, course.attempts, course.applied);
  }

  #deadline(course: Course): GrapevineClientError {
    const last = course.last === null ? "" : `; last: ${course.last.message}`;
    return new GrapevineClientError(
      "deadline",
      `no success within the deadline after ${course.attempts} attempts${last}`,
      course.applied,
      course.attempts,
      { cause: course.last },
    );
  }
}
