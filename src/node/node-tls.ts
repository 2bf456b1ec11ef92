// node/node-tls.ts — a node's TLS material from its --certs-dir (issue 18 §2): the cluster's CA,
// its node certificate and key (security/cert-layout.ts names the files), read at start and again
// on rotation (SIGHUP, cli/start.ts). A set of files is taken only whole and only when it holds
// together: the key is the certificate's, the certificate is a node's and the CA signed it. A set
// that does not is refused with the reason and the node keeps serving with the one it had, so an
// operator who copies files in the wrong order loses nothing.
//
// The server's context is swapped in place (tls.Server#setSecureContext: new handshakes use it,
// open connections keep theirs); the peer transports are told, and drop their pools so their next
// connections present the new certificate (net/undici-peer-http.ts).

import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import type { PeerTls, PeerTlsMaterial } from "../net/peer-tls.js";
import { CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE } from "../security/cert-layout.js";
import { describeCertificate } from "../security/inspect.js";
import { NodeStartError } from "./start-errors.js";

/** The material with the node certificate's end, read from it once. */
export interface LoadedTls extends PeerTlsMaterial {
  readonly notAfter: Date;
}

/** Why a set of files is not a node's TLS material; the message is one line. */
export class TlsMaterialError extends Error {
  override readonly name = "TlsMaterialError";
}

function filesOf(certsDir: string): { ca: string; cert: string; key: string } {
  return {
    ca: path.join(certsDir, CA_CERT_FILE),
    cert: path.join(certsDir, NODE_CERT_FILE),
    key: path.join(certsDir, NODE_KEY_FILE),
  };
}

/** Checks that the three PEM texts hold together (see the top of this file). */
export function checkTlsMaterial(material: PeerTlsMaterial, now: Date): LoadedTls {
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(material.ca);
    cert = new X509Certificate(material.cert);
  } catch (error) {
    throw new TlsMaterialError(`a certificate is not readable PEM: ${(error as Error).message}`);
  }
  try {
    // Throws when the key is unreadable or is not the certificate's.
    createSecureContext({ ca: material.ca, cert: material.cert, key: material.key });
  } catch (error) {
    throw new TlsMaterialError(
      `${NODE_KEY_FILE} does not go with ${NODE_CERT_FILE}: ${(error as Error).message}`,
    );
  }
  if (!ca.ca) throw new TlsMaterialError(`${CA_CERT_FILE} is not a CA certificate`);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new TlsMaterialError(`${NODE_CERT_FILE} is not signed by the CA of ${CA_CERT_FILE}`);
  const description = describeCertificate(material.cert, now);
  if (description.kind !== "node")
    throw new TlsMaterialError(
      `${NODE_CERT_FILE} is a ${description.kind} certificate, not a node's`,
    );
  return { ...material, notAfter: description.notAfter };
}

/** The node's TLS material, current, and the listeners a rotation tells. */
export class NodeTls implements PeerTls {
  #current: LoadedTls;
  readonly #listeners = new Set<() => void>();

  private constructor(
    readonly certsDir: string,
    loaded: LoadedTls,
  ) {
    this.#current = loaded;
  }

  /** Reads the certs dir at start; a NodeStartError naming the problem when it is unusable. */
  static load(certsDir: string, now: Date): NodeTls {
    const files = filesOf(certsDir);
    try {
      const material = {
        ca: readFileSync(files.ca, "utf8"),
        cert: readFileSync(files.cert, "utf8"),
        key: readFileSync(files.key, "utf8"),
      };
      return new NodeTls(certsDir, checkTlsMaterial(material, now));
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new NodeStartError(`cannot use --certs-dir ${certsDir}: ${why}`);
    }
  }

  current(): LoadedTls {
    return this.#current;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the files again and, when they hold together, makes them current and tells the
   * listeners; rejects with a TlsMaterialError (the old material stays) when they do not.
   */
  async reload(now: Date): Promise<LoadedTls> {
    const files = filesOf(this.certsDir);
    let material: PeerTlsMaterial;
    try {
      const [ca, cert, key] = await Promise.all(
        [files.ca, files.cert, files.key].map((file) => readFile(file, "utf8")),
      );
      material = { ca: ca as string, cert: cert as string, key: key as string };
    } catch (error) {
      throw new TlsMaterialError((error as Error).message);
    }
    const loaded = checkTlsMaterial(material, now);
    this.#current = loaded;
    for (const listener of this.#listeners) listener();
    return loaded;
  }
}
