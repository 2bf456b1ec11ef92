// security/client-check.ts — who a client certificate says its caller is (issue 18 §3): a node of
// the cluster (security/peer-check.ts's test), a client with the role its one OU names
// (security/inspect.ts roleOf, as `grapevine cert create-client --role` made it), or nobody. Like
// peer-check.ts it reads the shape node:tls gives, so it stays pure.

import { roleOf, type CertSubject } from "./inspect.js";
import { judgeNodePeer, type PresentedCertificate } from "./peer-check.js";
import type { Role } from "./roles.js";

/** RFC 5280's id-kp-clientAuth, as node:tls lists it in `ext_key_usage`. */
export const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

export type CertificateCaller =
  | { readonly kind: "none" }
  | { readonly kind: "refused"; readonly why: string }
  | { readonly kind: "node"; readonly nodeId: string }
  | { readonly kind: "client"; readonly name: string; readonly role: Role };

function commonNameOf(subject: CertSubject): string {
  const name = subject.CN;
  return typeof name === "string" ? name : "?";
}

export function judgeClientCertificate(
  authorized: boolean,
  authorizationError: string | undefined,
  cert: PresentedCertificate,
): CertificateCaller {
  if (cert.subject === undefined) return { kind: "none" };
  const asNode = judgeNodePeer(authorized, authorizationError, cert);
  if (asNode.admitted) return { kind: "node", nodeId: asNode.nodeId };
  if (!authorized)
    return {
      kind: "refused",
      why: `the certificate is not the cluster CA's (${authorizationError ?? "not trusted"})`,
    };
  const role = roleOf({ subject: cert.subject });
  if (role === undefined || !(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_OID))
    return { kind: "refused", why: "the certificate carries no client role" };
  return { kind: "client", name: commonNameOf(cert.subject), role };
}
