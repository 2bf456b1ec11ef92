// net/auth.ts — the cluster secret on node-to-node routes (SPEC §1 `--cluster-secret`).
//
// The caller presents the secret in a header; the route compares SHA-256 digests of the presented
// and the expected secret with crypto.timingSafeEqual, so neither the comparison time nor a length
// mismatch tells an attacker how much of a guess was right. This is shared-secret admission, not
// encryption: run the cluster on a private network or behind TLS.

import { createHash, timingSafeEqual } from "node:crypto";

export const CLUSTER_SECRET_HEADER = "x-grapevine-secret";

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

export interface SecretCheck {
  /**
   * True when `presented` (a header's value, possibly absent or repeated) is the cluster secret.
   */
  accepts(presented: string | readonly string[] | undefined): boolean;
}

/** With no secret configured every caller is accepted. */
export function createSecretCheck(secret: string | null): SecretCheck {
  if (secret === null) return { accepts: () => true };
  const expected = digest(secret);
  return {
    accepts(presented) {
      if (typeof presented !== "string") return false;
      return timingSafeEqual(digest(presented), expected);
    },
  };
}

/** The headers a client adds to a peer request. */
export function secretHeaders(secret: string | null): Record<string, string> {
  return secret === null ? {} : { [CLUSTER_SECRET_HEADER]: secret };
}
