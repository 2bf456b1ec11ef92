// The HTTP server limits unit tests build a node's server with (api/http-server.ts): the node's own
// deadlines and sizes, written once.

import type { HttpServerLimits } from "../../src/api/http-server.js";

export const TEST_HTTP_LIMITS: HttpServerLimits = {
  requestTimeoutMs: 30_000,
  timeoutCheckIntervalMs: 1_000,
  keepAliveTimeoutMs: 15_000,
  headerBytesMax: 16_384,
  pluginTimeoutMs: 10_000,
};
