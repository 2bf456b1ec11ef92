// api/token-registry.ts — the bearer tokens (issue 18 §3) over the cluster metadata, as
// api/bucket-book.ts keeps bucket properties: each token's record (security/token-book.ts) is the
// `token/<id>` entry, written here stamped by this node's hybrid logical clock and spread by the
// metadata exchange (cluster/metadata-gossip.ts), so a token made or revoked on one node is known
// to every node within a few gossip rounds. The secret leaves this module once, in the answer to
// its creation; only its hash is stored.

import { assert } from "../core/assert.js";
import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { METADATA_LIMITS, type ClusterMetadata, type MetadataEntry } from "../cluster/metadata.js";
import type { Role } from "../security/roles.js";
import {
  decodeTokenRecord,
  encodeTokenRecord,
  TOKEN_NAMESPACE,
  tokenKey,
  type TokenRecord,
} from "../security/token-book.js";
import { hashSecret, mintToken, TOKEN_LIMITS } from "../security/tokens.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TokenRegistryOptions {
  readonly metadata: ClusterMetadata;
  readonly self: NodeId;
  /** A fresh HLC timestamp (µs) for a change made here. */
  readonly stamp: () => number;
  /** Wall-clock now, ms since the epoch: tokens' creation and expiry. */
  readonly nowMs: () => number;
  /** Cryptographically random bytes (node:crypto randomBytes; seeded in tests). */
  readonly randomBytes: (count: number) => Buffer;
}

export interface CreatedToken {
  /** The token's text: shown once, never stored. */
  readonly token: string;
  readonly record: TokenRecord;
}

export class TokenRegistry {
  private readonly parsed = new WeakMap<MetadataEntry, TokenRecord | null>();

  constructor(private readonly options: TokenRegistryOptions) {}

  /** The record of a token id; null when none (or its stored text is not a record). */
  lookup(id: string): TokenRecord | null {
    const entry = this.options.metadata.get(tokenKey(id));
    return entry === undefined ? null : this.recordOf(id, entry);
  }

  /** A new token of `role` living `lifetimeDays`; its text is in the answer and nowhere else. */
  create(role: Role, lifetimeDays: number = TOKEN_LIMITS.lifetimeDaysDefault): CreatedToken {
    assert(
      Number.isInteger(lifetimeDays) &&
        lifetimeDays >= 1 &&
        lifetimeDays <= TOKEN_LIMITS.lifetimeDaysMax,
      "lifetime checked by the route",
    );
    // The metadata never drops an entry; past its bound nothing more is stamped (a 400, no crash).
    if (this.options.metadata.size >= METADATA_LIMITS.entriesMax)
      throw new GrapevineError("bad_request", "the cluster metadata is full: no more tokens");
    const { idBytes, secretBytes } = TOKEN_LIMITS;
    const minted = mintToken(this.options.randomBytes(idBytes + secretBytes));
    const createdAtMs = Math.floor(this.options.nowMs());
    const record: TokenRecord = {
      id: minted.id,
      role,
      hash: hashSecret(minted.secret),
      createdAtMs,
      expiresAtMs: createdAtMs + lifetimeDays * DAY_MS,
      revoked: false,
    };
    this.write(record);
    return { token: minted.text, record };
  }

  /** Marks a token revoked everywhere (once gossip has spread it); 404 for an unknown id. */
  revoke(id: string): TokenRecord {
    const record = this.lookup(id);
    if (record === null) throw new GrapevineError("not_found", `no token ${id}`);
    if (record.revoked) return record;
    const revoked = { ...record, revoked: true };
    this.write(revoked);
    return revoked;
  }

  /** Every token's record, by id (revoked and expired ones included, marked). */
  list(): TokenRecord[] {
    const prefix = `${TOKEN_NAMESPACE}/`;
    return this.options.metadata
      .listNamespace(TOKEN_NAMESPACE)
      .map((entry) => this.recordOf(entry.key.slice(prefix.length), entry))
      .filter((record): record is TokenRecord => record !== null);
  }

  private write(record: TokenRecord): void {
    const { metadata, self, stamp } = this.options;
    const key = tokenKey(record.id);
    // Stamped after the version it replaces, whatever this node's clock says.
    const previous = metadata.get(key)?.version.stampUs ?? 0;
    const version = { stampUs: Math.max(stamp(), previous + 1), origin: self };
    const changed = metadata.setLocal({ key, value: encodeTokenRecord(record), version });
    assert(changed, "a freshly stamped entry wins");
  }

  private recordOf(id: string, entry: MetadataEntry): TokenRecord | null {
    let record = this.parsed.get(entry);
    if (record === undefined) {
      record = decodeTokenRecord(id, entry.value);
      this.parsed.set(entry, record);
    }
    return record;
  }
}
