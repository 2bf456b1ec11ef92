// security/expiry.ts — how close a certificate is to its end, for `grapevine cert list` now and for
// `grapevine status` and a metric once nodes load their certificates (issue 18 §2).

/**
 * A certificate with fewer days left than this is flagged. Thirty days leaves a month of weekly
 * checks to rotate it; node and client certificates live five years, so the flag is rare and means
 * something.
 */
export const CERT_EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface Expiry {
  /** Whole days until notAfter, rounded down; negative once expired. */
  readonly daysLeft: number;
  readonly expired: boolean;
  /** Not yet expired, but fewer than CERT_EXPIRY_WARNING_DAYS days left. */
  readonly nearExpiry: boolean;
}

export function expiryOf(notAfter: Date, now: Date): Expiry {
  const leftMs = notAfter.getTime() - now.getTime();
  const expired = leftMs <= 0;
  return {
    daysLeft: Math.floor(leftMs / DAY_MS),
    expired,
    nearExpiry: !expired && leftMs < CERT_EXPIRY_WARNING_DAYS * DAY_MS,
  };
}
