// api/http-server.ts — the node's one HTTP server: fastify built with the limits that bound every
// connection, and every answer given before a route runs in the SPEC §2 error body.
//
// Timeouts. Node's http server keeps two deadlines per request, checked by one timer every
// connectionsCheckingInterval: headersTimeout (the headers are in) and requestTimeout (the whole
// request is in). fastify sets requestTimeout on the server after creating it, which leaves
// headersTimeout at Node's 60 s default; and where headersTimeout is the larger, Node swaps the two
// (ConnectionsList::Expired in node_http_parser.cc). With a 30 s requestTimeout a body that stopped
// arriving was therefore cut off after 60 s, not 30, and only when the check next ran, every 30 s:
// 60 to 90 s (issue 14 saw ~70). So both deadlines go to Node at construction, the headers' equal
// to the request's, and the check runs every timeoutCheckIntervalMs: a stalled request is answered
// 408 `request_timeout` between requestTimeoutMs and requestTimeoutMs + timeoutCheckIntervalMs.
//
// Client errors. What Node refuses before fastify sees a request (its 'clientError' event: a
// request line or header it cannot parse, headers over headerBytesMax, a timeout) is written to the
// socket as a whole HTTP/1.1 response with the JSON body and `Connection: close` (400
// `bad_request`, 431 `headers_too_large`, 408 `request_timeout`), then the socket is closed. Where
// a response is already under way on the socket a second one would corrupt it; that socket is only
// closed. Node's two other answers of its own, which have no body, are taken over too: an HTTP/1.1
// request without Host (RFC 9112 §3.2) is 400 `bad_request` from the onRequest hook below instead
// of Node's empty 400, and an `Expect` other than 100-continue is 417 `expectation_failed` from the
// server's 'checkExpectation' event instead of Node's empty 417.
//
// Draining. Once the node begins to shut down (deps.draining()), every request but /health and
// /ready is answered 503 `unavailable`, reason `draining`, with `Connection: close`, while requests
// already in flight finish. (fastify's return503OnClosing did the same with a body of its own
// shape.)
//
// Errors from routes, fastify's own refusals, 404 and 405 are api/errors.ts's: registered here on
// the root, so every plugin inherits them unless it sets its own.
//
// Schemas. The routes' TypeBox schemas (api/*-schemas.ts) are what fastify checks requests against
// and what the OpenAPI document is made of (api/openapi.ts). They only accept or refuse: the
// validator coerces no type and fills no default, so a handler sees the request the client sent.
// And they describe answers without rendering them: every answer is JSON.stringify'd as before,
// where fastify's schema serializer would drop fields a schema does not list and coerce values.

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { SecureContextOptions } from "node:tls";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type LogController,
} from "fastify";
import { GrapevineError } from "../core/errors.js";
import { sendError } from "../net/fastify-errors.js";
import { CONNECTION_LIMITS, ConnectionLimit } from "./connection-limit.js";
import { registerErrorHandling } from "./errors.js";
import { frameworkErrorHandler } from "./kv-routes.js";
import { READY_PATH } from "./ready-routes.js";

export const HEALTH_PATH = "/health";

export interface HttpServerLimits {
  /**
   * A request, headers and body, must arrive within this; then it is answered 408 and its socket
   * closed.
   */
  readonly requestTimeoutMs: number;
  /**
   * How often Node looks for requests past their deadline: a stalled one is answered at most this
   * late.
   */
  readonly timeoutCheckIntervalMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Request line and headers past this many bytes are refused with 431 (Node's maxHeaderSize). */
  readonly headerBytesMax: number;
  /** A plugin that takes longer than this to register fails the start instead of hanging it. */
  readonly pluginTimeoutMs: number;
  /** Open connections from one client address at most (api/connection-limit.ts). */
  readonly connectionsPerAddressMax?: number;
}

export interface HttpServerDeps {
  readonly logger?: FastifyBaseLogger;
  readonly logController?: LogController;
  readonly childLoggerFactory?: FastifyServerOptions["childLoggerFactory"];
  /** True once shutdown has begun: new requests are refused with 503 `draining`. */
  readonly draining?: () => boolean;
  /**
   * With --certs-dir: the CA, certificate and key to serve HTTPS with (issue 18 §2). Every caller
   * is asked for a certificate, none is required by the handshake: the node routes judge it
   * (net/route-guard.ts), the client routes take clients without one.
   */
  readonly tls?: Pick<SecureContextOptions, "ca" | "cert" | "key">;
}

/**
 * After a client error's answer is handed to the socket, it gets this long to flush before it is
 * destroyed.
 */
const CLIENT_ERROR_FLUSH_MS = 1_000;

/**
 * Paths that answer while draining: the probes, so an orchestrator sees the node alive and not
 * ready.
 */
const ANSWERED_WHILE_DRAINING = new Set([HEALTH_PATH, READY_PATH]);

/**
 * The fields of Node's 'clientError' errors we look at: llhttp's HPE_* codes and reasons, Node's
 * ERR_HTTP_*.
 */
export interface ClientErrorLike {
  readonly code?: unknown;
  readonly reason?: unknown;
}

/**
 * The answer to a request Node refused before fastify saw it; null when there is no one to answer
 * (a reset).
 */
export function clientErrorAnswer(
  error: ClientErrorLike,
  limits: Pick<HttpServerLimits, "requestTimeoutMs" | "headerBytesMax">,
): GrapevineError | null {
  switch (error.code) {
    case "ECONNRESET":
    case "EPIPE":
      return null;
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new GrapevineError(
        "request_timeout",
        `the request did not arrive within ${limits.requestTimeoutMs} ms`,
        {
          timeoutMs: limits.requestTimeoutMs,
        },
      );
    case "HPE_HEADER_OVERFLOW":
      return new GrapevineError(
        "headers_too_large",
        `the request line and headers are over ${limits.headerBytesMax} bytes`,
        { bytesMax: limits.headerBytesMax },
      );
    default: {
      // llhttp's reason names what it could not parse ("Invalid method encountered"); its code
      // stays inside.
      const reason =
        typeof error.reason === "string" && error.reason.length > 0
          ? `: ${error.reason.slice(0, 200)}`
          : "";
      return new GrapevineError("bad_request", `the request is not valid HTTP/1.1${reason}`);
    }
  }
}

/** A whole HTTP/1.1 response carrying the error body; the connection closes after it. */
export function rawErrorResponse(error: GrapevineError): string {
  const body = JSON.stringify(error.toBody());
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ""}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n" +
    `\r\n${body}`
  );
}

function responseUnderWay(socket: Duplex): boolean {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })
    ._httpMessage;
  return inFlight?.headersSent === true;
}

export function createHttpServer(
  limits: HttpServerLimits,
  deps: HttpServerDeps = {},
): FastifyInstance {
  const app = Fastify(
    serverOptions(limits, deps, (error, socket) => {
      answerClientError(app.log, limits, error, socket);
    }),
  ) as unknown as FastifyInstance;
  registerErrorHandling(app);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const connections = new ConnectionLimit(
    limits.connectionsPerAddressMax ?? CONNECTION_LIMITS.perAddressMax,
    deps.tls !== undefined,
  );
  app.server.on("connection", (socket: Socket) => connections.opened(socket));
  addRefusalHook(app, deps.draining ?? ((): boolean => false), connections);
  // With a listener, Node hands requests whose Expect it does not meet here instead of answering
  // itself.
  app.server.on("checkExpectation", answerExpectationFailed);
  return app;
}

type ClientErrorHandler = (error: Error & ClientErrorLike, socket: Duplex) => void;

/**
 * fastify's options: the deadlines and sizes of `limits`, the loggers of `deps`, our client-error
 * answer.
 */
function serverOptions(
  limits: HttpServerLimits,
  deps: HttpServerDeps,
  clientErrorHandler: ClientErrorHandler,
) {
  return {
    ...(deps.logger === undefined ? {} : { loggerInstance: deps.logger }),
    ...(deps.logController === undefined ? {} : { logController: deps.logController }),
    ...(deps.childLoggerFactory === undefined
      ? {}
      : { childLoggerFactory: deps.childLoggerFactory }),
    // Given to Node's createServer, which is the only place headersTimeout and the check interval
    // can be set before they take effect (see the top of this file). fastify hands `https` to
    // https.createServer, which takes the same server options beside the TLS ones.
    ...(deps.tls === undefined
      ? { http: nodeServerOptions(limits) }
      : {
          https: {
            ...nodeServerOptions(limits),
            ...deps.tls,
            requestCert: true,
            rejectUnauthorized: false,
          },
        }),
    // fastify sets requestTimeout again after createServer; the same value.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    pluginTimeout: limits.pluginTimeoutMs,
    // Idle keep-alive sockets are closed at once on close(); in-flight requests are finished.
    forceCloseConnections: "idle" as const,
    // The drain hook below answers instead, with the SPEC §2 body.
    return503OnClosing: false,
    // See "Schemas" at the top of this file.
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false } },
    // A URL the router cannot percent-decode gets the one error body (bad_key on /kv/).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  };
}

function nodeServerOptions(limits: HttpServerLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    maxHeaderSize: limits.headerBytesMax,
    // Checked in the hook below, which answers with the error body; Node's own 400 has none.
    requireHostHeader: false,
  };
}

/**
 * Writes the error body for a request Node refused to the socket and closes it (see the top of this
 * file).
 */
function answerClientError(
  log: FastifyBaseLogger,
  limits: HttpServerLimits,
  error: Error & ClientErrorLike,
  socket: Duplex,
): void {
  if (socket.destroyed) return;
  const answer = clientErrorAnswer(error, limits);
  if (answer === null || !socket.writable || responseUnderWay(socket)) {
    socket.destroy();
    return;
  }
  log.debug({ code: answer.code, reason: answer.message }, "client error");
  const timer = setTimeout(() => socket.destroy(), CLIENT_ERROR_FLUSH_MS);
  timer.unref();
  socket.end(rawErrorResponse(answer), () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/** Refuses an HTTP/1.1 request without Host, and every request but the probes while draining. */
function addRefusalHook(
  app: FastifyInstance,
  draining: () => boolean,
  connections: ConnectionLimit,
): void {
  // One callback-style hook for both refusals: it runs on every request, the hot path included, and
  // an async hook would cost a promise each time.
  app.addHook("onRequest", (request, reply, done) => {
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) {
      void sendError(
        reply.header("connection", "close"),
        new GrapevineError("bad_request", "an HTTP/1.1 request needs a Host header"),
      );
      return;
    }
    if (connections.isOver(request.raw.socket)) {
      void sendError(
        reply.header("connection", "close"),
        new GrapevineError(
          "unavailable",
          `too many connections from ${request.raw.socket.remoteAddress ?? "this address"} ` +
            `(at most ${connections.perAddressMax}); reuse connections or close some`,
          { reason: "connections" },
        ),
      );
      return;
    }
    if (draining() && !ANSWERED_WHILE_DRAINING.has(request.url.split("?")[0] ?? "")) {
      void sendError(
        reply.header("connection", "close"),
        new GrapevineError("unavailable", "the node is shutting down", { reason: "draining" }),
      );
      return;
    }
    done();
  });
}

/**
 * Node's 'checkExpectation': a 417 `expectation_failed` with the error body instead of Node's empty
 * one.
 */
function answerExpectationFailed(request: IncomingMessage, response: ServerResponse): void {
  const error = new GrapevineError("expectation_failed");
  const body = JSON.stringify(error.toBody());
  response.writeHead(error.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  response.end(body);
  request.resume();
}
