// node/build-http.ts — the node's fastify server with its bounds and its quiet request logging.
// Building it opens no socket; node.ts listens once every route is registered.

import type { Server as TlsServer } from "node:tls";
import { LogController, type FastifyInstance } from "fastify";
import { createHttpServer, HEALTH_PATH } from "../api/http-server.js";
import { registerAuditLog } from "../api/audit-log.js";
import { READY_PATH } from "../api/ready-routes.js";
import type { NodeConfig } from "./config.js";
import { httpLogLevel, type Logger } from "./logger.js";
import type { NodeDeps } from "./node-ports.js";
import { NODE_LIMITS } from "./node-settings.js";
import { isRefusal, type RefusalTally } from "./refusal-tally.js";
import type { LoadedTls, NodeTls } from "./node-tls.js";

function serverTls({ ca, cert, key }: LoadedTls): { ca: string; cert: string; key: string } {
  return { ca, cert, key };
}

/**
 * A probe's 503 (a node starting or draining) answers the probe; it refuses no client, and an
 * orchestrator or `grapevine dev` polling it would otherwise fill the count.
 */
const PROBE_PATHS: ReadonlySet<string> = new Set([HEALTH_PATH, READY_PATH]);

/**
 * fastify's per-request lines go to debug: at info a node logs membership, not traffic. Unless the
 * HTTP logger logs debug, nothing per request is built: no child logger (a pino child per request
 * was ~2 µs of every request's CPU), no log details; a failed request is still logged at warn.
 */
class QuietLogController extends LogController {
  constructor(
    private readonly debugRequests: boolean,
    private readonly refusals: Pick<RefusalTally, "note">,
  ) {
    super();
  }
  override incomingRequest(request: Parameters<LogController["incomingRequest"]>[0]): void {
    if (this.debugRequests)
      request.log.debug({ method: request.method, url: request.url }, "incoming request");
  }
  override requestCompleted(
    ...[error, request, reply]: Parameters<LogController["requestCompleted"]>
  ): void {
    // Refusals are counted, not logged one by one: housekeeping logs the count once a minute.
    if (isRefusal(reply.statusCode) && !PROBE_PATHS.has(request.url.split("?")[0] ?? ""))
      this.refusals.note(reply.statusCode);
    if (!error && !this.debugRequests) return;
    const details = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: reply.elapsedTime,
    };
    if (error) request.log.warn({ ...details, err: error }, "request failed");
    else request.log.debug(details, "request completed");
  }
  override routeNotFound(request: Parameters<LogController["routeNotFound"]>[0]): void {
    if (this.debugRequests)
      request.log.debug({ method: request.method, url: request.url }, "route not found");
  }
}

export interface NodeHttpInput {
  readonly config: NodeConfig;
  readonly ports: NodeDeps;
  readonly log: Logger;
  /** Draining is `stopping`: set the moment shutdown begins, before the server stops accepting. */
  readonly isStopping: () => boolean;
  readonly refusals: Pick<RefusalTally, "note">;
  /** With --certs-dir: HTTPS, its context swapped on every rotation. */
  readonly tls?: NodeTls | null;
}

export function buildHttpServer({
  config,
  ports,
  log,
  isStopping,
  refusals,
  tls = null,
}: NodeHttpInput): FastifyInstance {
  const httpLogger = log.child({ component: "http" }, { level: httpLogLevel(config.logLevel) });
  const debugRequests = httpLogger.isLevelEnabled("debug");
  const app = createHttpServer(
    {
      requestTimeoutMs: NODE_LIMITS.httpRequestTimeoutMs,
      timeoutCheckIntervalMs: NODE_LIMITS.httpTimeoutCheckIntervalMs,
      keepAliveTimeoutMs: NODE_LIMITS.httpKeepAliveTimeoutMs,
      headerBytesMax: NODE_LIMITS.httpHeaderBytesMax,
      pluginTimeoutMs: NODE_LIMITS.pluginTimeoutMs,
      ...ports.httpLimits,
    },
    {
      logger: httpLogger,
      logController: new QuietLogController(debugRequests, refusals),
      childLoggerFactory: (logger, bindings, options) =>
        debugRequests ? logger.child(bindings, options) : logger,
      draining: isStopping,
      ...(tls === null ? {} : { tls: serverTls(tls.current()) }),
    },
  );
  if (tls !== null) {
    const server = app.server as unknown as TlsServer;
    tls.onChange(() => server.setSecureContext(serverTls(tls.current())));
  }
  if (ports.onRoute !== undefined) app.addHook("onRoute", ports.onRoute);
  // Before any route: a hook covers only the routes registered after it.
  registerAuditLog(app, log.child({ component: "audit" }));
  return app;
}
