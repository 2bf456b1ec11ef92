// A one-node cluster (rf 1) built with buildNode and never listening: what the node unit tests
// that need a whole node without sockets share.

import path from "node:path";
import { buildNode, type BuiltNode } from "../../src/node/build-node.js";
import { parseNodeConfig } from "../../src/node/config.js";
import { createLogger } from "../../src/node/logger.js";
import type { NodeDeps } from "../../src/node/node-ports.js";

/**
 * Builds node "solo" in `<root>/solo` with extra flags and ports; silent logs, no background
 * repair.
 */
export function buildSoloNode(
  root: string,
  flags: Record<string, string> = {},
  ports: NodeDeps = {},
): Promise<BuiltNode> {
  const config = parseNodeConfig(
    {
      id: "solo",
      // Never bound: these tests need no socket.
      listen: "127.0.0.1:1",
      "data-dir": path.join(root, "solo"),
      "replication-factor": "1",
      "log-level": "error",
      "anti-entropy-interval-s": "off",
      ...flags,
    },
    {},
  );
  return buildNode(config, {
    logger: createLogger({ level: "error", destination: { write: () => undefined } }),
    ...ports,
  });
}
