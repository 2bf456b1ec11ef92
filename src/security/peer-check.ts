// security/peer-check.ts — who is calling, from the certificate a TLS peer presented: the node-to-
// node routes (gossip, replica, repair, stream, hint replay) take only a node certificate of the
// cluster's CA (issue 18 §2); and, calling a peer, whether its server's certificate names the
// member this node meant to reach (issue 18 §5). It reads the shape node:tls gives
// (`socket.authorized`, `getPeerCertificate()`), so it stays pure and testable without a socket.
//
// A node certificate is what security/issue.ts issueNodeCert makes: extended key usage serverAuth
// (a node serves) and no OU. A client certificate has clientAuth only and its role as OU, so a
// client of any role is refused here however much it may do on the client routes.

import type { CertSubject } from "./inspect.js";

/** RFC 5280's id-kp-serverAuth, as node:tls lists it in `ext_key_usage`. */
export const SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1";

/** The fields of node:tls's PeerCertificate this check reads; `{}` when no certificate came. */
export interface PresentedCertificate {
  readonly subject?: CertSubject;
  readonly ext_key_usage?: readonly string[];
}

export type PeerVerdict =
  | { readonly admitted: true; readonly nodeId: string }
  | { readonly admitted: false; readonly code: "unauthorized" | "forbidden"; readonly why: string };

/**
 * `authorized` is node:tls's verdict that the chain ends at the CA the server trusts;
 * `authorizationError` says why not.
 */
export function judgeNodePeer(
  authorized: boolean,
  authorizationError: string | undefined,
  cert: PresentedCertificate,
): PeerVerdict {
  if (cert.subject === undefined)
    return { admitted: false, code: "unauthorized", why: "no client certificate was presented" };
  if (!authorized)
    return {
      admitted: false,
      code: "unauthorized",
      why: `the certificate is not the cluster CA's (${authorizationError ?? "not trusted"})`,
    };
  const nodeId = nodeIdOf(cert);
  if (nodeId === undefined)
    return {
      admitted: false,
      code: "forbidden",
      why: "the certificate is a client's, not a node's",
    };
  return { admitted: true, nodeId };
}

/** The node id a node certificate names (its CN); undefined for any other certificate. */
function nodeIdOf(cert: PresentedCertificate): string | undefined {
  const usages = cert.ext_key_usage ?? [];
  const units = cert.subject?.OU;
  const commonName = cert.subject?.CN;
  if (!usages.includes(SERVER_AUTH_OID) || units !== undefined || typeof commonName !== "string")
    return undefined;
  return commonName;
}

export type ServerVerdict =
  | { readonly verified: true; readonly nodeId: string }
  | { readonly verified: false; readonly why: string };

/**
 * The other direction (issue 18 §5): the certificate a peer's server presented when this node
 * called it, after node:tls checked that the cluster's CA signed it. It must be a node certificate
 * naming one of `expected`, the members gossip places at the address called; with none expected (a
 * seed not yet known by id) any node certificate of the CA will do, and names who answered.
 */
export function judgeNodeServer(
  cert: PresentedCertificate,
  expected: readonly string[],
): ServerVerdict {
  const nodeId = nodeIdOf(cert);
  if (nodeId === undefined)
    return { verified: false, why: "the server's certificate is not a node certificate" };
  if (expected.length > 0 && !expected.includes(nodeId))
    return {
      verified: false,
      why: `the certificate names ${nodeId}, not ${expected.join(" or ")}`,
    };
  return { verified: true, nodeId };
}
