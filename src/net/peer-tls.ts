// net/peer-tls.ts — what a node's clients need to call their peers over mutual TLS (issue 18 §2):
// the cluster's CA to verify a peer's certificate by, and this node's own certificate and key to
// present. The material can change (a rotation, node/node-tls.ts): a transport asks for the
// current one whenever it opens connections and is told when it changed, so it drops the
// connections made with the old. It may also judge each server a connection reaches (issue 18
// §5): the node's own (node/peer-identity.ts) checks the certificate names the member gossip places
// at that address.

import type { PeerCertificate } from "node:tls";
import type { Address, NodeId } from "../core/ids.js";

export interface PeerTlsMaterial {
  /** PEM: the cluster's CA certificate. */
  readonly ca: string;
  /** PEM: this node's certificate and private key. */
  readonly cert: string;
  readonly key: string;
}

export interface PeerTls {
  current(): PeerTlsMaterial;
  /** `listener` runs after every change of the material; the returned function unsubscribes. */
  onChange(listener: () => void): () => void;
  /**
   * Runs on every new connection to `address` once node:tls has checked the server's certificate
   * against the CA and its host name; `to` is the member meant when the request names it. An Error
   * fails the connection (the request rejects as if the peer were unreachable). Absent: those two
   * checks only.
   */
  checkServer?(address: Address, cert: PeerCertificate, to: NodeId | undefined): Error | undefined;
}
