// security/issue.ts — makes the cluster's certificates: a CA, node certificates and client
// certificates signed by it, each with a fresh key. It reads no clock (the caller passes `now`)
// and does no file IO (the caller writes the PEM it returns: cli/cert.ts).

import {
  createPrivateKey,
  createPublicKey,
  X509Certificate as NodeX509,
  type KeyObject,
} from "node:crypto";
import { assert } from "../core/assert.js";
import type { webcrypto as WebCrypto } from "node:crypto";
import type { HostName } from "./cert-inputs.js";
import type { Role } from "./roles.js";
import { webcrypto, x509 } from "./x509.js";

const HOUR_MS = 60 * 60 * 1000;
const YEAR_MS = 365 * 24 * HOUR_MS;

/** CockroachDB's defaults: the CA outlives the certificates it signs. */
export const CERT_LIFETIMES_MS = {
  ca: 10 * YEAR_MS,
  node: 5 * YEAR_MS,
  client: 5 * YEAR_MS,
} as const;

/**
 * notBefore is set this far before now, as CockroachDB does, so a peer whose clock is a little
 * behind never refuses a certificate that was just made.
 */
export const NOT_BEFORE_BACKDATE_MS = HOUR_MS;

/**
 * ECDSA on P-256 with SHA-256: every TLS 1.2/1.3 stack speaks it, its signatures and key exchange
 * are several times cheaper than RSA-2048's at a higher security level, and the keys and
 * certificates are small — handshakes between nodes and clients stay fast.
 */
const KEY_ALGORITHM: WebCrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: WebCrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const SERIAL_BYTES = 16;
const ORGANIZATION = "Grapevine";

export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
  /** The lifetime asked for would have outlived the CA; notAfter is the CA's. */
  readonly cappedToCa: boolean;
}

/** A CA that signs: its certificate and private key, as PEM. */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

interface Validity {
  readonly now: Date;
  readonly lifetimeMs: number;
}

/** A certificate's times have whole seconds (RFC 5280 UTCTime): so do the dates returned. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** A positive serial number of SERIAL_BYTES random bytes, as RFC 5280 asks (≤ 20 bytes). */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(SERIAL_BYTES));
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function newKeys(): Promise<WebCrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
}

async function keyPem(key: WebCrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function name(commonName: string, unit?: string): x509.JsonName {
  const units = unit === undefined ? [] : [{ OU: [unit] }];
  return [{ O: [ORGANIZATION] }, ...units, { CN: [commonName] }];
}

export async function createCa(validity: Validity): Promise<IssuedCertificate> {
  const keys = await newKeys();
  const notAfter = wholeSeconds(validity.now.getTime() + validity.lifetimeMs);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: name(`${ORGANIZATION} CA`),
    notBefore: wholeSeconds(validity.now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem"),
    keyPem: await keyPem(keys.privateKey),
    notAfter,
    cappedToCa: false,
  };
}

/** A CA whose key is a CA's and belongs to its certificate: anything else would sign garbage. */
/** What `read` made of `text`, or a CaMismatchError saying `text` is not `what`. */
function parsed<T>(what: string, text: string, read: (text: string) => T): T {
  try {
    return read(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new CaMismatchError(`the CA's ${what} is not readable PEM (${why})`);
  }
}

async function signerOf(
  ca: CertificateAuthority,
): Promise<{ cert: x509.X509Certificate; key: WebCrypto.CryptoKey }> {
  const cert = parsed("certificate", ca.certPem, (pem) => new x509.X509Certificate(pem));
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca !== true)
    throw new CaMismatchError("the CA certificate is not a CA (no basicConstraints cA)");
  const privateKey = parsed("key", ca.keyPem, (pem) => createPrivateKey(pem));
  const spki = (key: KeyObject): string =>
    key.export({ type: "spki", format: "der" }).toString("hex");
  if (spki(createPublicKey(privateKey)) !== spki(new NodeX509(ca.certPem).publicKey))
    throw new CaMismatchError("the CA key does not belong to the CA certificate");
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  const key = await webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
  return { cert, key };
}

/** The CA's certificate or key is unreadable, not a CA's, or the two do not belong together. */
export class CaMismatchError extends Error {
  override readonly name = "CaMismatchError";
}

interface Leaf {
  readonly subject: x509.JsonName;
  readonly usages: readonly x509.ExtendedKeyUsage[];
  readonly hosts: readonly HostName[];
}

async function issueLeaf(
  ca: CertificateAuthority,
  leaf: Leaf,
  validity: Validity,
): Promise<IssuedCertificate> {
  const signer = await signerOf(ca);
  const keys = await newKeys();
  const wanted = validity.now.getTime() + validity.lifetimeMs;
  const cappedToCa = wanted > signer.cert.notAfter.getTime();
  const notAfter = wholeSeconds(Math.min(wanted, signer.cert.notAfter.getTime()));
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([...leaf.usages], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(signer.cert.publicKey),
  ];
  if (leaf.hosts.length > 0)
    extensions.push(
      new x509.SubjectAlternativeNameExtension(leaf.hosts.map((host) => ({ ...host }))),
    );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: leaf.subject,
    issuer: signer.cert.subjectName,
    notBefore: wholeSeconds(validity.now.getTime() - NOT_BEFORE_BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  assert(
    await cert.verify({ publicKey: signer.cert.publicKey, signatureOnly: true }),
    "a certificate the CA just signed verifies",
  );
  return {
    certPem: cert.toString("pem"),
    keyPem: await keyPem(keys.privateKey),
    notAfter,
    cappedToCa,
  };
}

/**
 * A node's certificate: CN = its id, its hosts as DNS and IP subject alternative names, good for
 * both ends of a TLS connection (a node serves clients and peers, and calls its peers).
 */
export function issueNodeCert(
  ca: CertificateAuthority,
  node: { readonly id: string; readonly hosts: readonly HostName[] },
  validity: Validity,
): Promise<IssuedCertificate> {
  assert(node.hosts.length > 0, "a node certificate names at least one host");
  return issueLeaf(
    ca,
    {
      subject: name(node.id),
      usages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      hosts: node.hosts,
    },
    validity,
  );
}

/** A client's certificate: CN = its name, OU = its role (security/inspect.ts roleOf reads it). */
export function issueClientCert(
  ca: CertificateAuthority,
  client: { readonly name: string; readonly role: Role },
  validity: Validity,
): Promise<IssuedCertificate> {
  return issueLeaf(
    ca,
    {
      subject: name(client.name, client.role),
      usages: [x509.ExtendedKeyUsage.clientAuth],
      hosts: [],
    },
    validity,
  );
}
