// net/peer-routes.ts — the fastify plugin that receives peer messages (`POST /internal/v1/peer`,
// net/peer-protocol.ts).
//
// Every body is distrusted until checked (ARCHITECTURE §6.5): the cluster secret first (before the
// body is even read), then the content type, the size limit, msgpack decoding and the message schema
// (cluster/peer-messages.ts). Anything that fails is answered 401 `unauthorized` or 400 `bad_request`
// and counted; the engine only ever sees a validated message. The plugin is encapsulated: its content
// type parsers and error handler apply to the peer route only.

import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { Outbound } from "../cluster/engine.js";
import { validatePeerMessage, type HeartbeatReply, type PeerMessage } from "../cluster/peer-messages.js";
import type { NodeId } from "../core/ids.js";
import { GrapevineError } from "../core/errors.js";
import { decodePeerBody, encodePeerBody, PEER_CONTENT_TYPE } from "./codec.js";
import { guardNodeRoutes } from "./route-guard.js";
import { PEER_BODY_BYTES_MAX, PEER_PATH } from "./peer-protocol.js";

/** What the route needs of the node: the engine's receive, a clock, and a way to send replies. */
export interface PeerRoutesDeps {
  receive(message: PeerMessage, nowMs: number): readonly Outbound[];
  send(outbounds: readonly Outbound[]): void;
  nowMs(): number;
  /**
   * This node's wall clock (ms) and id. With both, a heartbeat carrying its send time is answered 200
   * with this node's receive and reply times (time/clock-offset.ts: the monitor's half of the NTP
   * exchange); without them, or for any other message, the answer is 204.
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

export const peerRoutes: FastifyPluginAsync<PeerRoutesOptions> = async (app: FastifyInstance, options) => {
  const { deps, stats } = options;
  const bodyLimit = options.bodyBytesMax ?? PEER_BODY_BYTES_MAX;
  guardNodeRoutes(app, { clusterSecret: options.clusterSecret, bodyLimit, stats, what: "peer" });

  app.post(PEER_PATH, { bodyLimit }, async (request, reply) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      throw new GrapevineError("bad_request", `a peer message is a non-empty ${PEER_CONTENT_TYPE} body`);
    }
    // t1 as early as the route sees the request: the decoding below is our delay, not the wire's.
    const receivedWallMs = deps.wallMs?.();
    let decoded: unknown;
    try {
      decoded = decodePeerBody(body);
    } catch {
      throw new GrapevineError("bad_request", "the body is not valid msgpack");
    }
    // An invalid message throws PeerMessageError, a 400 `bad_request` GrapevineError.
    const message: PeerMessage = validatePeerMessage(decoded);
    stats.received++;
    stats.bytesReceived += body.length;
    const outbounds = deps.receive(message, deps.nowMs());
    if (outbounds.length > 0) deps.send(outbounds);
    if (message.kind === "heartbeat" && message.sentWallMs !== undefined && receivedWallMs !== undefined && deps.self !== undefined) {
      const answer: HeartbeatReply = {
        kind: "heartbeat-reply",
        from: deps.self,
        t0: message.sentWallMs,
        t1: receivedWallMs,
        t2: deps.wallMs?.() ?? receivedWallMs,
      };
      return reply.code(200).type(PEER_CONTENT_TYPE).send(encodePeerBody(answer));
    }
    return reply.code(204).send();
  });
};
