// net/list-client.ts — the client side of key listing's node-to-node route (net/list-protocol.ts):
// one page of a peer's keys for a token range of a bucket. Requests go through a PeerHttp (by
// default this client's own undici pools, one per peer address) with a deadline; replies are
// size-bounded and validated before use. A failed request rejects with ListRequestError, which the
// key lister (replication/key-lister.ts) answers by reading another replica of the range.

import type { Address, NodeId } from "../core/ids.js";
import type { BucketScanPage, BucketScanRequest } from "../storage/bucket-scan.js";
import type { ListPageTransport } from "../replication/key-lister.js";
import { secretHeaders } from "./auth.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import {
  LIST_PAGE_PATH,
  LIST_PROTOCOL_LIMITS,
  listPageReplyCheck,
  listViolation,
  pageFromWire,
  requestToWire,
} from "./list-protocol.js";
import type { PeerHttp } from "./peer-http.js";
import type { PeerTls } from "./peer-tls.js";
import { UndiciPeerHttp } from "./undici-peer-http.js";

export const LIST_CLIENT_DEFAULTS = {
  /** A page visits at most BUCKET_SCAN_LIMITS.visitedMax records: well under a second. */
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  /** Connections per peer: the listings running at once share them. */
  connectionsPerPeer: 2,
} as const;

export class ListRequestError extends Error {
  override readonly name = "ListRequestError";
}

export interface ListClientOptions {
  readonly self: NodeId;
  readonly clusterSecret: string | null;
  readonly requestTimeoutMs?: number;
}

export interface ListClientDeps {
  readonly addressOf: (node: NodeId) => Address | undefined;
  /** How requests reach a peer; by default this client's own undici pools (closed with it). */
  readonly http?: PeerHttp;
  /** With --certs-dir: its own pools speak mutual TLS with this material. */
  readonly tls?: PeerTls;
}

/** Pages of peers' keys (ListPageTransport for every node but this one). */
export class ListClient implements ListPageTransport {
  readonly #options: ListClientOptions;
  readonly #deps: ListClientDeps;
  readonly #http: PeerHttp;
  readonly #ownsHttp: boolean;

  constructor(options: ListClientOptions, deps: ListClientDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#ownsHttp = deps.http === undefined;
    this.#http =
      deps.http ??
      new UndiciPeerHttp({
        connections: LIST_CLIENT_DEFAULTS.connectionsPerPeer,
        connectTimeoutMs: LIST_CLIENT_DEFAULTS.connectTimeoutMs,
        ...(deps.tls === undefined ? {} : { tls: deps.tls }),
      });
  }

  async page(node: NodeId, request: BucketScanRequest): Promise<BucketScanPage> {
    const address = this.#deps.addressOf(node);
    if (address === undefined) throw new ListRequestError(`no address known for ${node}`);
    let response;
    try {
      response = await this.#http.request(address, {
        method: "POST",
        path: LIST_PAGE_PATH,
        to: node,
        headers: {
          "content-type": PEER_CONTENT_TYPE,
          ...secretHeaders(this.#options.clusterSecret),
        },
        body: encodePeerBody(requestToWire(this.#options.self, request)),
        replyBytesMax: LIST_PROTOCOL_LIMITS.replyBytesMax,
        timeoutMs: this.#options.requestTimeoutMs ?? LIST_CLIENT_DEFAULTS.requestTimeoutMs,
      });
    } catch (error) {
      throw new ListRequestError(`${address}: ${(error as Error).message}`);
    }
    if (response.statusCode !== 200 || response.body === null)
      throw new ListRequestError(`${address} answered ${response.statusCode} to a list page`);
    let reply: unknown;
    try {
      reply = decodePeerBody(response.body);
    } catch {
      throw new ListRequestError(`${address} answered a list page that is not msgpack`);
    }
    if (!listPageReplyCheck.Check(reply))
      throw new ListRequestError(
        `${address} sent a bad list page: ${listViolation(listPageReplyCheck, reply)}`,
      );
    return pageFromWire(reply);
  }

  async close(): Promise<void> {
    if (this.#ownsHttp) await this.#http.close();
  }
}
