// client/ring-keeper.ts — keeps the client's RingSnapshot current.
//
// The ring is read from `/cluster/ring` and `/cluster/status` of one node (the live members first,
// then the seeds the application gave), at start, every ringRefreshMs, and soon after a request
// fails at a node (a failure is the usual first sign of a ring change or a node going down), at
// most once per failureRefreshMinMs. One read runs at a time; callers during it share it. A ring
// that cannot be read leaves the last one in place: requests still go somewhere sensible, and every
// node coordinates any key.

import type { Cancel, Clock } from "../core/clock.js";
import { CLIENT_LIMITS, type AddressTranslator } from "./options.js";
import { RingBodyError, RingSnapshot } from "./ring-snapshot.js";
import type { ClientTransport, TransportRequest } from "./transport.js";

export interface RingKeeperOptions {
  readonly seeds: readonly string[];
  readonly translate: AddressTranslator;
  readonly transport: ClientTransport;
  readonly clock: Clock;
  readonly refreshMs: number;
  /** Time for each of the two reads. */
  readonly timeoutMs: number;
}

async function readJson(
  transport: ClientTransport,
  url: string,
  path: string,
  timeoutMs: number,
): Promise<unknown> {
  const request: TransportRequest = { method: "GET", path, timeoutMs };
  const result = await transport.send(url, request);
  if (!result.ok) throw new RingBodyError(`${url}${path}: ${result.failure.detail}`);
  if (result.answer.status !== 200)
    throw new RingBodyError(`${url}${path} answered ${result.answer.status}`);
  try {
    return JSON.parse(result.answer.body.toString("utf8"));
  } catch {
    throw new RingBodyError(`${url}${path} is not JSON`);
  }
}

export class RingKeeper {
  #snapshot: RingSnapshot | null = null;
  #reading: Promise<RingSnapshot | null> | null = null;
  #lastReadMs = -Infinity;
  #cancelTimer: Cancel | null = null;
  #closed = false;
  /** Reads that changed the snapshot (for tests and metrics). */
  changes = 0;

  constructor(private readonly options: RingKeeperOptions) {}

  get snapshot(): RingSnapshot | null {
    return this.#snapshot;
  }

  /** Reads the ring now (or joins the read under way) and keeps reading it every refreshMs. */
  refresh(): Promise<RingSnapshot | null> {
    if (this.#closed) return Promise.resolve(this.#snapshot);
    this.#reading ??= this.#read().finally(() => {
      this.#reading = null;
      this.#schedule();
    });
    return this.#reading;
  }

  /** A request failed at a node: read the ring again unless it was read very lately. */
  refreshSoon(): void {
    if (this.options.clock.nowMs() - this.#lastReadMs < CLIENT_LIMITS.failureRefreshMinMs) return;
    void this.refresh();
  }

  close(): void {
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }

  #schedule(): void {
    this.#cancelTimer?.();
    if (this.#closed) return;
    this.#cancelTimer = this.options.clock.schedule(this.options.refreshMs, () => {
      this.#cancelTimer = null;
      void this.refresh();
    });
  }

  /** The nodes to ask, best first: live members, then the rest, then the seeds. */
  #sources(): string[] {
    const members = this.#snapshot?.members ?? [];
    const urls = [
      ...members.filter((member) => member.live).map((member) => member.url),
      ...members.filter((member) => !member.live).map((member) => member.url),
      ...this.options.seeds,
    ];
    return [...new Set(urls)];
  }

  async #read(): Promise<RingSnapshot | null> {
    this.#lastReadMs = this.options.clock.nowMs();
    const { transport, timeoutMs, translate } = this.options;
    for (const url of this.#sources()) {
      if (this.#closed) break;
      try {
        const [ring, status] = await Promise.all([
          readJson(transport, url, "/cluster/ring", timeoutMs),
          readJson(transport, url, "/cluster/status", timeoutMs),
        ]);
        const next = RingSnapshot.parse(ring, status, translate);
        if (this.#snapshot === null || !this.#snapshot.sameAs(next)) this.changes++;
        this.#snapshot = next;
        return next;
      } catch (error) {
        if (!(error instanceof RingBodyError)) throw error;
        // This node cannot tell us the ring: ask the next.
      }
    }
    return this.#snapshot;
  }
}
