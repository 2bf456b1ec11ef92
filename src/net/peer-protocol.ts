// net/peer-protocol.ts — what the node-to-node HTTP route looks like, shared by client and server.
//
// Every peer message is one `POST /internal/v1/peer` with an `application/msgpack` body
// (net/codec.ts) and, when the cluster has a secret, the `x-grapevine-secret` header (net/auth.ts).
// The answer is 204 with no body: a message is a datagram, and any reply the receiver has travels
// as its own POST. The path is versioned so a future wire change can run beside this one during a
// rolling upgrade.

export const PEER_PATH = "/internal/v1/peer";

/**
 * The largest peer body either side handles. A full gossip state of 1,000 members with 16 tokens
 * each is about 300 KB; 4 MiB leaves room for larger rings and refuses anything absurd.
 */
export const PEER_BODY_BYTES_MAX = 4 * 1024 * 1024;
