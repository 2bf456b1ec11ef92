// replication/fallback-copies.ts — the writes this node holds as a fallback replica (issue 16 §4,
// sloppy quorum): a coordinator whose primary replica is down sends the write here instead, marked
// with the primary it is for; this node keeps it, its acknowledgement counts toward the write's
// `w`, and it hands the write to the primary when that is back.
//
// Theory of operation (Dynamo §4.6: "the replica sent to D will have a hint in its metadata that
// suggests which node was the intended recipient"). A fallback copy is a hint held by another node
// than the coordinator, so it is kept in a hint store of its own (storage/fallback-db.ts: the `f`
// namespace) and handed off by a HintedHandoff of its own: replayed to the primary once it is seen
// live (a member-up event or the periodic check), deleted only after the primary acknowledged it.
// Unlike a coordinator's hint, a fallback copy may be the only copy of an acknowledged write
// (pw=0), so it is never dropped for age: its window is FALLBACK_LIMITS.windowMs (decades). Reads
// at pr < r consult fallback copies (find()).
//
// Bounds. The bytes held as fallback copies, over every primary, are at most bytesMax
// (--fallback-bytes-max): past it a fallback write is refused (`fallback_full`), never stored, and
// the coordinator asks the next candidate instead (write-round.ts). The check is against the
// store's totals, which count queued appends too (the check and the append's admission run in one
// synchronous step), so concurrent writes overshoot it by at most the framing estimate of a copy.
// find() scans at most scanMax copies per primary; past it the read fails that node rather than
// answer from part of its copies.

import type { NodeId } from "../core/ids.js";
import type { Hints } from "../storage/hints.js";
import { compareRecords, decodeRecord, type StoredRecord } from "../storage/record.js";
import { HintedHandoff, type HintedHandoffDeps } from "./hinted-handoff.js";

export const FALLBACK_LIMITS = {
  /** Default bound on the bytes held as fallback copies (--fallback-bytes-max). */
  bytesMaxDefault: 256 * 1024 * 1024,
  /** Fallback copies are kept until handed off: this window is never reached in practice. */
  windowMs: 100 * 365 * 24 * 3600 * 1000,
  /** Copies scanned per primary by one fallback read (find()). */
  scanMax: 4_096,
} as const;

export type FallbackOutcome = "stored" | "full" | "failed";

export interface FallbackCopiesOptions {
  readonly self: NodeId;
  readonly bytesMax: number;
}

export interface FallbackCopiesStats {
  /** Bytes held now, over every primary. */
  readonly bytes: number;
  readonly copies: number;
  readonly bytesMax: number;
  readonly stored: number;
  /** Refused because the bound was reached. */
  readonly refusedFull: number;
  /** Handed off to their primary (and deleted). */
  readonly handedOff: number;
}

export class FallbackCopies {
  readonly #options: FallbackCopiesOptions;
  readonly #hints: Hints;
  readonly #wallMs: () => number;
  /** The hand-off: replays the copies to their primaries, as hints are replayed. */
  readonly handoff: HintedHandoff;
  #stored = 0;
  #refusedFull = 0;

  constructor(options: FallbackCopiesOptions, deps: HintedHandoffDeps) {
    this.#options = options;
    this.#hints = deps.hints;
    this.#wallMs = deps.wallMs;
    this.handoff = new HintedHandoff(
      { self: options.self, enabled: true, hintWindowMs: FALLBACK_LIMITS.windowMs },
      deps,
    );
  }

  /** Keeps a copy of `encodedRecord` for `primary`; resolves once durable, or with the refusal. */
  async store(primary: NodeId, key: string, encodedRecord: Uint8Array): Promise<FallbackOutcome> {
    const size = Buffer.byteLength(key) + encodedRecord.length + HINT_FRAMING_ESTIMATE;
    if (this.bytes() + size > this.#options.bytesMax) {
      this.#refusedFull++;
      return "full";
    }
    const outcome = await this.#hints.append({
      target: primary,
      key,
      encodedRecord,
      createdMs: this.#wallMs(),
    });
    if (outcome === "stored") {
      this.#stored++;
      return "stored";
    }
    this.#refusedFull++;
    return "full";
  }

  /** The newest copy of `key` held for any primary; undefined when none. */
  async find(key: string): Promise<StoredRecord | undefined> {
    let newest: StoredRecord | undefined;
    for (const [primary, pending] of this.#hints.pending()) {
      if (pending.count > FALLBACK_LIMITS.scanMax)
        throw new Error(`too many fallback copies held for ${primary} to read one`);
      for (const hint of await this.#hints.scan(primary, FALLBACK_LIMITS.scanMax)) {
        if (hint.key !== key) continue;
        const record = decodeRecord(hint.encodedRecord);
        if (newest === undefined || compareRecords(record, newest) > 0) newest = record;
      }
    }
    return newest;
  }

  bytes(): number {
    let total = 0;
    for (const pending of this.#hints.pending().values()) total += pending.bytes;
    return total;
  }

  stats(): FallbackCopiesStats {
    let copies = 0;
    for (const pending of this.#hints.pending().values()) copies += pending.count;
    return {
      bytes: this.bytes(),
      copies,
      bytesMax: this.#options.bytesMax,
      stored: this.#stored,
      refusedFull: this.#refusedFull,
      handedOff: this.handoff.stats().replayed,
    };
  }
}

/** A stored copy's key and envelope beyond its key and record (hint-codec.ts), near enough. */
const HINT_FRAMING_ESTIMATE = 64;
