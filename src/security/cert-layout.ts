// security/cert-layout.ts — the file names of a certs dir, as CockroachDB lays it out, so an
// operator who knows one knows the other and later work (TLS listeners, the CLI's --certs-dir,
// `grapevine dev`) finds every file by name:
//
//   ca.crt                   the cluster's CA certificate: every node and client trusts it
//   node.crt, node.key       this machine's node certificate and key (server and client of peers)
//   client.<name>.crt/.key   a client's certificate (CN=<name>, OU=<role>) and key
//
// The CA's key is not in the certs dir: it signs certificates and nothing else, so it is kept
// apart (`--ca-key`, as CockroachDB asks) and never copied to the machines that run nodes.

export const CA_CERT_FILE = "ca.crt";
export const NODE_CERT_FILE = "node.crt";
export const NODE_KEY_FILE = "node.key";

export function clientCertFile(name: string): string {
  return `client.${name}.crt`;
}

export function clientKeyFile(name: string): string {
  return `client.${name}.key`;
}

/** Whether a file in a certs dir holds a certificate (for `grapevine cert list`). */
export function isCertificateFile(fileName: string): boolean {
  return fileName.endsWith(".crt");
}
