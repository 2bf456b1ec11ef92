// sim/sim-http-client.ts — the PeerHttp (net/peer-http.ts) one simulated node sends through. It
// owns what the node's undici transport owns (net/undici-peer-http.ts): each request's deadline,
// its one settlement and the reply's size checks, on the virtual clock instead of a real timer.
// Carrying the bytes — delay, loss, duplication, partitions, pauses, crashes — is the network's
// job (sim/sim-http.ts), which answers through the SimHttpCall handed to it.

import type { Cancel, Clock } from "../core/clock.js";
import type { Address } from "../core/ids.js";
import {
  PEER_HTTP_ERROR_BODY_BYTES_MAX,
  type PeerHttp,
  type PeerHttpReply,
  type PeerHttpRequest,
} from "../net/peer-http.js";

/** One request in flight, as the network sees it: answered or failed at most once. */
export interface SimHttpCall {
  readonly request: PeerHttpRequest;
  /** True once answered, failed, timed out or closed: later answers are not used. */
  readonly settled: boolean;
  /** Applies the port's size rules and settles; false when the call was settled already. */
  answer(statusCode: number, body: Buffer): boolean;
  /** Rejects the request; false when the call was settled already. */
  fail(error: Error): boolean;
}

/** What the client needs of its network. */
export interface SimHttpCarrier {
  send(from: Address, to: Address, call: SimHttpCall): void;
  timedOut(): void;
}

class Call implements SimHttpCall {
  settled = false;
  cancelDeadline: Cancel = () => undefined;

  constructor(
    readonly request: PeerHttpRequest,
    private readonly resolve: (reply: PeerHttpReply) => void,
    private readonly reject: (error: Error) => void,
    private readonly done: (call: Call) => void,
  ) {}

  answer(statusCode: number, body: Buffer): boolean {
    if (statusCode === 200 && body.length > this.request.replyBytesMax) {
      return this.fail(new Error(`the reply is larger than ${this.request.replyBytesMax} bytes`));
    }
    if (!this.settle()) return false;
    const kept = statusCode !== 200 && body.length > PEER_HTTP_ERROR_BODY_BYTES_MAX ? null : body;
    this.resolve({ statusCode, body: kept });
    return true;
  }

  fail(error: Error): boolean {
    if (!this.settle()) return false;
    this.reject(error);
    return true;
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.cancelDeadline();
    this.done(this);
    return true;
  }
}

export class SimPeerHttp implements PeerHttp {
  readonly #calls = new Set<Call>();
  #closed = false;

  constructor(
    private readonly from: Address,
    private readonly clock: Clock,
    private readonly carrier: SimHttpCarrier,
  ) {}

  request(address: Address, request: PeerHttpRequest): Promise<PeerHttpReply> {
    return new Promise<PeerHttpReply>((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("the peer transport is closed"));
        return;
      }
      // The network copies the body as it sends it (sim-http.ts): the receiver never shares it.
      const call = new Call(request, resolve, reject, (settled) => this.#calls.delete(settled));
      this.#calls.add(call);
      const timeoutMs = request.timeoutMs;
      call.cancelDeadline = this.clock.schedule(timeoutMs, () => {
        if (call.fail(new Error(`no reply within ${timeoutMs} ms`))) this.carrier.timedOut();
      });
      this.carrier.send(this.from, address, call);
    });
  }

  /** Nothing is kept per address: there are no pools to drop. */
  forget(_address: Address): void {
    return;
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const call of [...this.#calls]) call.fail(new Error("the peer transport is closed"));
    return Promise.resolve();
  }
}
