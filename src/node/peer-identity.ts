// node/peer-identity.ts — the node's clients verify whom they reached (issue 18 §5): every new
// TLS connection to a peer passes security/peer-check.ts judgeNodeServer, with the members gossip
// places at the address called as the ids its certificate may name. A server that fails is
// treated as an unreachable peer (the connection fails) and a warning is logged, at most once per
// address per PEER_IDENTITY_WARN_INTERVAL_MS: a persistent impostor is one line a minute, not one a
// request.
//
// Wraps the node's TLS material (node/node-tls.ts), which the HTTP edge keeps using as it is; only
// the peer transports (net/undici-peer-http.ts) see the check.

import type { PeerCertificate } from "node:tls";
import type { Clock } from "../core/clock.js";
import type { Address, NodeId } from "../core/ids.js";
import type { PeerTls, PeerTlsMaterial } from "../net/peer-tls.js";
import { judgeNodeServer } from "../security/peer-check.js";
import type { Logger } from "./logger.js";

/** One warning per address at most this often. */
export const PEER_IDENTITY_WARN_INTERVAL_MS = 60_000;
/** Addresses whose last warning time is kept; past it the oldest is forgotten. */
const PEER_IDENTITY_WARNED_ADDRESSES_MAX = 1_024;

export interface PeerIdentityDeps {
  readonly tls: PeerTls;
  /** The members gossip knows, each with its address (the cluster engine's `members`). */
  readonly engine: {
    members(nowMs: number): readonly { readonly id: NodeId; readonly address: Address }[];
  };
  readonly clock: Clock;
  readonly log: Logger;
}

export class PeerIdentityTls implements PeerTls {
  readonly #deps: PeerIdentityDeps;
  readonly #warnedMs = new Map<Address, number>();

  constructor(deps: PeerIdentityDeps) {
    this.#deps = deps;
  }

  current(): PeerTlsMaterial {
    return this.#deps.tls.current();
  }

  onChange(listener: () => void): () => void {
    return this.#deps.tls.onChange(listener);
  }

  /** The ids the certificate at `address` may name: every member gossip places there. */
  expectedAt(address: Address): NodeId[] {
    const nowMs = this.#deps.clock.nowMs();
    const ids: NodeId[] = [];
    for (const member of this.#deps.engine.members(nowMs))
      if (member.address === address) ids.push(member.id);
    return ids;
  }

  /** `to` given: its certificate must name that member, else any member gossip places there. */
  checkServer(address: Address, cert: PeerCertificate, to: NodeId | undefined): Error | undefined {
    const verdict = judgeNodeServer(cert, to === undefined ? this.expectedAt(address) : [to]);
    if (verdict.verified) return undefined;
    this.#warn(address, verdict.why);
    return new Error(`the peer at ${address} is not the member expected there: ${verdict.why}`);
  }

  #warn(address: Address, why: string): void {
    const nowMs = this.#deps.clock.nowMs();
    const last = this.#warnedMs.get(address);
    if (last !== undefined && nowMs - last < PEER_IDENTITY_WARN_INTERVAL_MS) return;
    this.#warnedMs.delete(address);
    if (this.#warnedMs.size >= PEER_IDENTITY_WARNED_ADDRESSES_MAX) {
      const oldest = this.#warnedMs.keys().next();
      if (oldest.done !== true) this.#warnedMs.delete(oldest.value);
    }
    this.#warnedMs.set(address, nowMs);
    this.#deps.log.warn({ address, why }, "refused a peer whose certificate does not name it");
  }
}
