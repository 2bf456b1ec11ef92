// client/transport.ts — the port between the client's decisions and the network: one HTTP request
// to one node, answered with a status and body or with a failure that says whether the request
// may have reached the node. The library's transport is client/undici-transport.ts; tests give
// their own.

export type Method = "GET" | "PUT" | "DELETE";

export interface TransportRequest {
  readonly method: Method;
  /** Path and query, e.g. `/kv/a%2Fb?w=quorum`. */
  readonly path: string;
  readonly body?: Uint8Array;
  readonly contentType?: string;
  /** X-Grapevine-TTL on a PUT: whole seconds the value lives; 0: never expires. */
  readonly ttlSeconds?: number;
  /** The attempt's time: no answer by then is a `no_answer` failure. */
  readonly timeoutMs: number;
}

export interface TransportAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  /** X-Grapevine-Timestamp, when present. */
  readonly timestamp: string | undefined;
  /** X-Grapevine-TTL on a GET: the seconds a value with a time to live has left. */
  readonly ttl?: string | undefined;
  readonly body: Buffer;
}

/**
 * Why a request got no answer. `sent: false` means the request certainly never reached the node
 * (the connection was refused or never established), so even a write may be sent again.
 */
export interface TransportFailure {
  readonly kind: "unreachable" | "no_answer" | "bad_answer";
  readonly sent: boolean;
  readonly detail: string;
}

export type TransportResult =
  | { readonly ok: true; readonly answer: TransportAnswer }
  | { readonly ok: false; readonly failure: TransportFailure };

export interface ClientTransport {
  /** One request to the node at `baseUrl` (`http://host:port`); never rejects. */
  send(baseUrl: string, request: TransportRequest): Promise<TransportResult>;
  close(): Promise<void>;
}
