// net/peer-lookup.ts — how peer host names become addresses.
//
// Node's default lookup is getaddrinfo on libuv's thread pool, and a process cannot exit while a
// thread-pool lookup is still waiting on a DNS server: libuv joins its threads at exit. A node told
// to stop just after a peer's container went away (its name no longer answered by the container
// DNS) then hangs for the resolver's full timeout, and `docker stop` kills it. Peer names are
// therefore resolved with c-ares (dns.Resolver), which runs on the event loop and is cancelled when
// the node closes. getaddrinfo remains the fallback for names DNS does not know (an /etc/hosts
// entry), and IP literals and localhost never reach DNS at all.

import { lookup as systemLookup, Resolver, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";

/**
 * One DNS attempt's wait and the attempts per lookup: a peer that cannot be resolved in ~2 s is
 * down.
 */
export const PEER_LOOKUP_LIMITS = { attemptTimeoutMs: 1_000, attempts: 2 } as const;

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** Codes for "DNS has no such name": only then is the system resolver (with /etc/hosts) asked. */
const NOT_IN_DNS = new Set([
  "ENOTFOUND",
  "ENODATA",
  "ENONAME",
  "ENOTIMP",
  "EREFUSED",
  "ECONNREFUSED",
]);

export class PeerLookup {
  readonly #resolver = new Resolver({
    timeout: PEER_LOOKUP_LIMITS.attemptTimeoutMs,
    tries: PEER_LOOKUP_LIMITS.attempts,
  });
  #closed = false;

  /** A `lookup` for net.connect (and undici's `connect` option). */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    if (this.#closed) {
      callback(
        Object.assign(new Error(`lookup of ${hostname} after close`), { code: "ECANCELLED" }),
        "",
      );
      return;
    }
    if (isIP(hostname) !== 0 || hostname === "localhost") {
      systemLookup(hostname, { ...options, all: options.all === true }, callback as never);
      return;
    }
    this.#resolver.resolve4(hostname, (error, addresses) => {
      if (error === null && addresses.length > 0) {
        if (options.all === true)
          callback(
            null,
            addresses.map((address) => ({ address, family: 4 })),
          );
        else callback(null, addresses[0] as string, 4);
        return;
      }
      if (error !== null && !NOT_IN_DNS.has(error.code ?? "")) {
        callback(error, "");
        return;
      }
      systemLookup(hostname, { ...options, all: options.all === true }, callback as never);
    });
  };

  /**
   * Cancels lookups in flight (their callbacks get ECANCELLED) so nothing holds the process at
   * exit.
   */
  close(): void {
    this.#closed = true;
    this.#resolver.cancel();
  }
}
