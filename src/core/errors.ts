// core/errors.ts — the one table of error codes (SPEC §2, ARCHITECTURE §5) and the one error class
// that carries a code from it.
//
// Every expected failure a client can see has a code here, with its HTTP status, its default
// message and its meaning (when it is answered; README's error table says the same, and a test
// holds the two together both ways). Any layer throws a GrapevineError with its code directly — the
// coordinator's `unavailable` and `timeout` with their details, a bad consistency level, a refused
// ring change — so no layer above translates errors by class. Rendering one as an HTTP answer is
// api/'s business (api/errors.ts, net/fastify-errors.ts); this module imports nothing.
//
// What is not here, on purpose: programmer errors (core/assert.ts InvariantError, a TypeError)
// carry no code — they are bugs, answered 500 `internal` and logged; the CLI's and the config's
// errors map to exit codes, not statuses; and the transports' request failures (net/*-client.ts)
// say why one peer request failed, for the caller's retry and hint decisions, and never reach a
// client as such.

export const ERROR_TABLE = {
  bad_key: {
    status: 400,
    message: "the key must be 1 to 1024 bytes of UTF-8",
    meaning: "an empty or over-long key, or one that is not valid UTF-8",
  },
  bad_consistency: {
    status: 400,
    message: "the consistency level must be one, quorum, all or a replica count",
    meaning: "an unknown consistency level (`w`, `r`), or a count above the replication factor",
  },
  bad_bucket: {
    status: 400,
    message: "a bucket name is 1 to 64 letters, digits, '_', '.' or '-'",
    meaning: "a bucket name that is empty, too long, or has other characters",
  },
  bad_props: {
    status: 400,
    message: "the bucket properties are not valid",
    meaning:
      "bucket properties that are not JSON, name an unknown property, or break a rule (pr ≤ r, pw ≤ w, maxValueBytes ≤ the node's)",
  },
  bad_ttl: {
    status: 400,
    message: "X-Grapevine-TTL must be a whole number of seconds, at most ten years",
    meaning:
      "an X-Grapevine-TTL header that is not a whole number of seconds, or is over the maximum (ten years); detail `secondsMax`",
  },
  bad_context: {
    status: 400,
    message: "the X-Grapevine-Context header is not a context this cluster made",
    meaning:
      "an X-Grapevine-Context header that is malformed, too large or not from this cluster's format",
  },
  bad_request: {
    status: 400,
    message: "the request is malformed",
    meaning:
      "a malformed request: not HTTP/1.1, no Host, a body or Content-Type the route does not take",
  },
  unauthorized: {
    status: 401,
    message: "a credential is needed",
    meaning:
      "no credential, or a wrong, revoked or expired one: a client route of a TLS node without a valid token or client certificate; a node-to-node route without the cluster secret or a node certificate of the cluster's CA",
  },
  forbidden: {
    status: 403,
    message: "the caller's role does not allow this",
    meaning:
      "an authenticated caller whose role is short of the route's (a reader writing), a certificate-only write without X-Grapevine-Request, a node certificate on a client route, a client certificate on a node-to-node route, or a node message whose `from` is not its certificate's node",
  },
  not_found: {
    status: 404,
    message: "not found",
    meaning: "no such key (or deleted), member, repair, or route",
  },
  method_not_allowed: {
    status: 405,
    message: "this path does not take that method",
    meaning:
      "a method the path has no route for; detail `allowed` and the Allow header list those it has",
  },
  request_timeout: {
    status: 408,
    message: "the request did not arrive in time",
    meaning:
      "the request's headers and body did not arrive within the server's timeout; detail `timeoutMs`",
  },
  ring_change_in_progress: {
    status: 409,
    message: "another ring change is in progress",
    meaning: "a join, decommission or removenode while another ring change is in progress",
  },
  member_live: {
    status: 409,
    message: "the member is live; removenode is for members that are down for good",
    meaning: "removenode of a member that is live",
  },
  too_few_members: {
    status: 409,
    message: "the ring would have fewer members than the replication factor",
    meaning: "a decommission that would leave fewer members than the replication factor",
  },
  value_too_large: {
    status: 413,
    message: "the value is larger than the node accepts",
    meaning: "a body over the route's limit; detail `bytesMax`",
  },
  expectation_failed: {
    status: 417,
    message: "the only expectation the node meets is 100-continue",
    meaning: "an Expect header other than 100-continue",
  },
  not_supported: {
    status: 422,
    message: "not supported yet",
    meaning: "a valid request for something not built yet: conflictResolution `siblings`",
  },
  headers_too_large: {
    status: 431,
    message: "the request's headers are larger than the node accepts",
    meaning: "a request line and headers over the server's limit; detail `bytesMax`",
  },
  internal: {
    status: 500,
    message: "internal error",
    meaning:
      "a bug (a failed assertion, a TypeError): logged with its context, its message not sent",
  },
  unavailable: {
    status: 503,
    message: "not enough live replicas",
    meaning:
      "the request cannot be served now: too few live replicas (`required`, `alive`), or `reason` overloaded, starting, draining, clock_offset",
  },
  timeout: {
    status: 504,
    message: "replicas did not answer in time",
    meaning: "replicas did not answer in time; details `required`, `acknowledged`",
  },
} as const satisfies Record<string, { status: number; message: string; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface ErrorBody {
  readonly error: ErrorCode;
  readonly message: string;
  readonly [detail: string]: unknown;
}

/**
 * An expected failure with a stable code from ERROR_TABLE, a message (which may improve) and
 * details.
 */
export class GrapevineError extends Error {
  override readonly name: string = "GrapevineError";
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message ?? ERROR_TABLE[code].message);
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

/** The JSON body; details never overwrite `error` or `message`. */
export function errorBody(
  code: ErrorCode,
  message?: string,
  details: ErrorDetails = {},
): ErrorBody {
  return { ...details, error: code, message: message ?? ERROR_TABLE[code].message };
}
