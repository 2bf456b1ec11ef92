// security/inspect.ts — reads back what security/issue.ts put into a certificate: its kind, its
// subject, a client's role, a node's hosts, its expiry. `roleOf` takes the subject in the shape
// node:tls gives a peer's certificate (`socket.getPeerCertificate().subject`), so the HTTPS routes
// of issue 18 §3 read a client's role with the same function `grapevine cert list` uses.

import { expiryOf, type Expiry } from "./expiry.js";
import { isRole, type Role } from "./roles.js";
import { x509 } from "./x509.js";

/**
 * A subject's attributes by short name (CN, OU, O, …): one value as a string, several as an array,
 * as node:tls's PeerCertificate.subject has them.
 */
export type CertSubject = Readonly<Record<string, string | readonly string[] | undefined>>;

export type CertKind = "ca" | "node" | "client";

/**
 * The role a client certificate carries: its one OU, when that is a role. A certificate with no
 * OU, several, or one that is not a role carries none (a node certificate has no OU).
 */
export function roleOf(cert: { readonly subject: CertSubject }): Role | undefined {
  const unit = cert.subject.OU;
  const units = unit === undefined ? [] : typeof unit === "string" ? [unit] : unit;
  if (units.length !== 1) return undefined;
  const only = units[0] as string;
  return isRole(only) ? only : undefined;
}

export interface CertDescription {
  readonly kind: CertKind;
  /** The subject as RFC 4514 text (`O=Grapevine, CN=node1`). */
  readonly subject: string;
  readonly commonName: string | undefined;
  readonly role: Role | undefined;
  /** A node certificate's DNS names and IP addresses. */
  readonly hosts: readonly string[];
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly expiry: Expiry;
}

function subjectOf(cert: x509.X509Certificate): CertSubject {
  const subject: Record<string, string | string[]> = {};
  for (const attribute of cert.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(attribute)) {
      const had = subject[type];
      const all = [...(had === undefined ? [] : typeof had === "string" ? [had] : had), ...values];
      subject[type] = all.length === 1 ? (all[0] as string) : all;
    }
  }
  return subject;
}

function kindOf(cert: x509.X509Certificate): CertKind {
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca === true) return "ca";
  const usages = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  return usages.includes(x509.ExtendedKeyUsage.serverAuth) ? "node" : "client";
}

function hostsOf(cert: x509.X509Certificate): string[] {
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  return names
    .filter((entry) => entry.type === "dns" || entry.type === "ip")
    .map((entry) => entry.value);
}

/** The first certificate of a PEM file, described as of `now`. */
export function describeCertificate(pem: string, now: Date): CertDescription {
  const cert = new x509.X509Certificate(pem);
  const subject = subjectOf(cert);
  const commonName = subject.CN;
  return {
    kind: kindOf(cert),
    subject: cert.subject,
    commonName: typeof commonName === "string" ? commonName : commonName?.join(","),
    role: roleOf({ subject }),
    hosts: hostsOf(cert),
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    expiry: expiryOf(cert.notAfter, now),
  };
}
