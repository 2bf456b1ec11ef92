// net/peer-routes.ts — the fastify plugin that receives peer messages (`POST /internal/v1/peer`,
// net/peer-protocol.ts).
//
// Every body is distrusted until checked (ARCHITECTURE §6.5): the cluster secret first (before the
// body is even read), then the content type, the size limit, msgpack decoding and the message
// schema (cluster/peer-messages.ts). Anything that fails is answered 401 `unauthorized` or 400
// `bad_request` and counted; the engine only ever sees a validated message. The plugin is
// encapsulated: its content type parsers and error handler apply to the peer route only.

import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { Outbound } from "../cluster/engine.js";
import {
  validatePeerMessage,
  type HeartbeatReply,
  type PeerMessage,
} from "../cluster/peer-messages.js";
import type { NodeId } from "../core/ids.js";
import { encodePeerBody } from "./codec.js";
import { mountNodeRoutes } from "./route-guard.js";
import {
  decodeNodeBody,
  msgpackAnswer,
  NO_CONTENT,
  requireBody,
  type NodeRoute,
  type NodeRouteGroup,
} from "./node-route.js";
import { PEER_BODY_BYTES_MAX, PEER_PATH } from "./peer-protocol.js";

/** What the route needs of the node: the engine's receive, a clock, and a way to send replies. */
export interface PeerRoutesDeps {
  receive(message: PeerMessage, nowMs: number): readonly Outbound[];
  send(outbounds: readonly Outbound[]): void;
  nowMs(): number;
  /**
   * This node's wall clock (ms) and id. With both, a heartbeat carrying its send time is answered
   * 200 with this node's receive and reply times (time/clock-offset.ts: the monitor's half of the
   * NTP exchange); without them, or for any other message, the answer is 204.
   */
  wallMs?(): number;
  readonly self?: NodeId;
}

export interface PeerRoutesOptions {
  readonly clusterSecret: string | null;
  readonly bodyBytesMax?: number;
  readonly deps: PeerRoutesDeps;
  readonly stats: PeerRouteStats;
}

/** Counters of the route, read by the metrics on scrape. */
export class PeerRouteStats {
  received = 0;
  bytesReceived = 0;
  /** Refused as malformed: wrong content type, too large, not msgpack, or not a peer message. */
  refusedMalformed = 0;
  refusedUnauthorized = 0;
}

/**
 * The peer route without its HTTP server: fastify mounts it below, InternalRoutes calls it
 * directly.
 */
export function peerRouteGroup(options: PeerRoutesOptions): NodeRouteGroup {
  const { deps, stats } = options;
  const route: NodeRoute = {
    path: PEER_PATH,
    bodyLimit: options.bodyBytesMax ?? PEER_BODY_BYTES_MAX,
    async handle(raw, sender) {
      const body = requireBody(raw, "a peer message");
      // t1 as early as the route sees the request: the decoding below is our delay, not the wire's.
      const receivedWallMs = deps.wallMs?.();
      // An invalid message throws PeerMessageError, a 400 `bad_request` GrapevineError.
      const message: PeerMessage = validatePeerMessage(decodeNodeBody(body, sender));
      stats.received++;
      stats.bytesReceived += body.length;
      const outbounds = deps.receive(message, deps.nowMs());
      if (outbounds.length > 0) deps.send(outbounds);
      const sentWallMs = message.kind === "heartbeat" ? message.sentWallMs : undefined;
      if (sentWallMs === undefined || receivedWallMs === undefined || deps.self === undefined)
        return NO_CONTENT;
      const answer: HeartbeatReply = {
        kind: "heartbeat-reply",
        from: deps.self,
        t0: sentWallMs,
        t1: receivedWallMs,
        t2: deps.wallMs?.() ?? receivedWallMs,
      };
      return msgpackAnswer(encodePeerBody(answer));
    },
  };
  return { clusterSecret: options.clusterSecret, stats, what: "peer", routes: [route] };
}

export const peerRoutes: FastifyPluginAsync<PeerRoutesOptions> = async (
  app: FastifyInstance,
  options,
) => {
  mountNodeRoutes(app, peerRouteGroup(options));
};
