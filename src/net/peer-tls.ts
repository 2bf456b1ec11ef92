// net/peer-tls.ts — what a node's clients need to call their peers over mutual TLS (issue 18 §2):
// the cluster's CA to verify a peer's certificate by, and this node's own certificate and key to
// present. The material can change (a rotation, node/node-tls.ts): a transport asks for the
// current one whenever it opens connections and is told when it changed, so it drops the
// connections made with the old.

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
}
