// security/tokens.ts — the bearer token's text (issue 18 §3): `gv_<id>_<secret>`, where the id is
// 16 hex digits (public: it names the token in lists, logs and revocation) and the secret 64 hex
// digits (32 random bytes). Only the SHA-256 of the secret is ever stored (security/token-book.ts),
// so a copy of the cluster metadata lets no one call the cluster. The `gv_` prefix lets secret
// scanners (GitHub's, trufflehog) recognise a leaked token, as GitHub's own `ghp_` tokens do.
//
// Pure: the random bytes are given by the caller.

import { createHash } from "node:crypto";

export const TOKEN_PREFIX = "gv_";

export const TOKEN_LIMITS = {
  /** Random bytes of a token's id: 64 bits, so ids never collide in any real cluster. */
  idBytes: 8,
  /** Random bytes of a token's secret: 256 bits, beyond any guessing. */
  secretBytes: 32,
  /** A token's life when its creator names none. */
  lifetimeDaysDefault: 90,
  /** The longest life a token may be given: ten years. */
  lifetimeDaysMax: 3650,
} as const;

const TOKEN_PATTERN = new RegExp(
  `^${TOKEN_PREFIX}([0-9a-f]{${TOKEN_LIMITS.idBytes * 2}})_([0-9a-f]{${TOKEN_LIMITS.secretBytes * 2}})$`,
);
const ID_PATTERN = new RegExp(`^[0-9a-f]{${TOKEN_LIMITS.idBytes * 2}}$`);

export interface TokenParts {
  readonly id: string;
  readonly secret: string;
}

/** A new token from random bytes (`idBytes + secretBytes` of them). */
export function mintToken(random: Buffer): TokenParts & { readonly text: string } {
  const { idBytes, secretBytes } = TOKEN_LIMITS;
  if (random.length < idBytes + secretBytes)
    throw new RangeError(`a token needs ${idBytes + secretBytes} random bytes`);
  const id = random.subarray(0, idBytes).toString("hex");
  const secret = random.subarray(idBytes, idBytes + secretBytes).toString("hex");
  return { id, secret, text: formatToken({ id, secret }) };
}

export function formatToken({ id, secret }: TokenParts): string {
  return `${TOKEN_PREFIX}${id}_${secret}`;
}

/** The id and secret of a token's text (surrounding white space ignored); null when malformed. */
export function parseToken(text: string): TokenParts | null {
  const match = TOKEN_PATTERN.exec(text.trim());
  if (match === null) return null;
  return { id: match[1] as string, secret: match[2] as string };
}

export function isTokenId(text: string): boolean {
  return ID_PATTERN.test(text);
}

/** What is stored of a secret: its SHA-256, hex. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
