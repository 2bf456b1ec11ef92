// security/token-book.ts — what is stored of a bearer token and how a presented one is judged
// (issue 18 §3). A token's record lives in the cluster metadata under `token/<id>` (api/token-
// registry.ts writes it, gossip spreads it): its role, the SHA-256 of its secret, when it was made,
// when it expires and whether it was revoked. Revocation writes the record again with `revoked`
// set: a metadata entry is never dropped, or an old copy would bring the token back.
//
// Judging compares the presented secret's hash with the stored one by crypto.timingSafeEqual, so
// the comparison's time says nothing of how much of a guess was right. An unknown id, a wrong
// secret, a revoked and an expired token are all the same 401 to the caller; the reason is kept for
// the node's log and metric.
//
// Pure: the time is an argument and the records come through a lookup.

import { timingSafeEqual } from "node:crypto";
import { isRole, type Role } from "./roles.js";
import { hashSecret, isTokenId, parseToken } from "./tokens.js";

export const TOKEN_NAMESPACE = "token";

export interface TokenRecord {
  readonly id: string;
  readonly role: Role;
  /** SHA-256 of the secret, hex. */
  readonly hash: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly revoked: boolean;
}

const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The metadata key of a token's record. */
export function tokenKey(id: string): string {
  return `${TOKEN_NAMESPACE}/${id}`;
}

/** The stored text of a record (its id is in the key). */
export function encodeTokenRecord(record: TokenRecord): string {
  const { role, hash, createdAtMs, expiresAtMs, revoked } = record;
  return JSON.stringify({ role, hash, createdAtMs, expiresAtMs, revoked });
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** A record from its stored text; null when the text is not one (it then admits nothing). */
export function decodeTokenRecord(id: string, text: string): TokenRecord | null {
  if (!isTokenId(id)) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { role, hash, createdAtMs, expiresAtMs, revoked } = value as Record<string, unknown>;
  if (typeof role !== "string" || !isRole(role)) return null;
  if (typeof hash !== "string" || !HASH_PATTERN.test(hash)) return null;
  if (!isTime(createdAtMs) || !isTime(expiresAtMs) || typeof revoked !== "boolean") return null;
  return { id, role, hash, createdAtMs, expiresAtMs, revoked };
}

/** Why a token was refused; each is a 401 to the caller. */
export type TokenRefusal = "malformed" | "unknown" | "wrong_secret" | "revoked" | "expired";

export type TokenVerdict =
  | { readonly admitted: true; readonly id: string; readonly role: Role }
  | { readonly admitted: false; readonly reason: TokenRefusal; readonly id?: string };

/** Judges a presented token's text against the records `lookup` finds, at `nowMs`. */
export function judgeToken(
  text: string,
  lookup: (id: string) => TokenRecord | null,
  nowMs: number,
): TokenVerdict {
  const parts = parseToken(text);
  if (parts === null) return { admitted: false, reason: "malformed" };
  const { id } = parts;
  const record = lookup(id);
  if (record === null) return { admitted: false, reason: "unknown", id };
  const presented = Buffer.from(hashSecret(parts.secret), "hex");
  const stored = Buffer.from(record.hash, "hex");
  if (!timingSafeEqual(presented, stored)) return { admitted: false, reason: "wrong_secret", id };
  if (record.revoked) return { admitted: false, reason: "revoked", id };
  if (nowMs >= record.expiresAtMs) return { admitted: false, reason: "expired", id };
  return { admitted: true, id, role: record.role };
}

/** The `Authorization: Bearer <token>` header's token; null when absent or another scheme. */
export function bearerTokenOf(header: string | readonly string[] | undefined): string | null {
  if (typeof header !== "string") return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match === null ? null : (match[1] as string);
}
