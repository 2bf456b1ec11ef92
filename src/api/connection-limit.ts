// api/connection-limit.ts — at most so many open connections from one client address (issue 18
// §5), so one client (or one runaway pool) cannot take every socket the node has (the whole
// server's cap is NODE_LIMITS.httpConnectionsMax). Counted when the TCP connection opens, dropped
// when it closes.
//
// A plain HTTP connection over the limit is answered: its requests get 503 `unavailable` with the
// SPEC §2 body and `Connection: close` (the request hook asks isOver). A TLS connection over the
// limit is closed before its handshake, which costs the node nothing; the client sees a reset.

import type { Socket } from "node:net";
import { assert } from "../core/assert.js";

export const CONNECTION_LIMITS = {
  /**
   * Open connections from one address at most. Far above what a client pool or a peer opens (the
   * bench's 256 workers share a pool of fewer), far below the server's whole cap.
   */
  perAddressMax: 1_024,
} as const;

export class ConnectionLimit {
  readonly #open = new Map<string, number>();
  readonly #over = new WeakSet<Socket>();

  constructor(
    readonly perAddressMax: number,
    private readonly encrypted: boolean,
  ) {
    assert(Number.isInteger(perAddressMax) && perAddressMax >= 1, "perAddressMax is at least 1");
  }

  /** A connection opened ('connection' of the server, before any TLS handshake). */
  opened(socket: Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    const open = (this.#open.get(address) ?? 0) + 1;
    this.#open.set(address, open);
    socket.once("close", () => {
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
    if (open <= this.perAddressMax) return;
    if (this.encrypted) socket.destroy();
    else this.#over.add(socket);
  }

  /** True for a plain connection opened past its address's limit: its requests are refused. */
  isOver(socket: Socket): boolean {
    return this.#over.has(socket);
  }

  /** Open connections from an address now. */
  openFrom(address: string): number {
    return this.#open.get(address) ?? 0;
  }
}
