// cli/cert.ts — `grapevine cert create-ca | create-node | create-client | list` (issue 18 §1): the
// cluster's certificates in a certs dir laid out as CockroachDB's (security/cert-layout.ts), made
// by security/issue.ts. Nothing here is wired to a listener yet: TLS is issue 18 §2.

import type { Command } from "commander";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../node/config.js";
import {
  CA_CERT_FILE,
  clientCertFile,
  clientKeyFile,
  NODE_CERT_FILE,
  NODE_KEY_FILE,
} from "../security/cert-layout.js";
import {
  CertInputError,
  checkName,
  parseHosts,
  parseLifetime,
  parseRole,
} from "../security/cert-inputs.js";
import {
  CaMismatchError,
  CERT_LIFETIMES_MS,
  createCa,
  issueClientCert,
  issueNodeCert,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../security/issue.js";
import { ROLES } from "../security/roles.js";
import {
  CERT_FILE_MODE,
  KEY_FILE_MODE,
  readCa,
  refuseToOverwrite,
  writeCertFiles,
} from "./cert-files.js";
import { listCertificates } from "./cert-list.js";
import { CliError, EXIT_CODES, type CliOutput, type ExitCode } from "./shared.js";

/** As CockroachDB's ~/.cockroach-certs: one certs dir per user and machine unless told. */
export const DEFAULT_CERTS_DIR = path.join(os.homedir(), ".grapevine-certs");

interface CreateValues {
  readonly certsDir: string;
  readonly caKey: string;
  readonly lifetime?: string;
  readonly overwrite?: boolean;
}

/** An operator's bad value is a usage error (exit 2); a refusal of the files is a failure (1). */
async function reported(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof CertInputError) throw new ConfigError(error.option, error.message);
    if (error instanceof CliError || error instanceof ConfigError) throw error;
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

/** Issues with the CA of the certs dir, naming its files when they do not make a CA. */
async function withCa(
  values: CreateValues,
  issue: (ca: CertificateAuthority) => Promise<IssuedCertificate>,
): Promise<IssuedCertificate> {
  const ca = await readCa(values.certsDir, values.caKey);
  try {
    return await issue(ca);
  } catch (error) {
    if (!(error instanceof CaMismatchError)) throw error;
    const files = `${path.join(values.certsDir, CA_CERT_FILE)}, ${values.caKey}`;
    throw new CliError(`${error.message} (${files})`);
  }
}

function lifetimeOf(values: CreateValues, fallbackMs: number): number {
  return values.lifetime === undefined ? fallbackMs : parseLifetime("--lifetime", values.lifetime);
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

async function save(
  output: CliOutput,
  issued: IssuedCertificate,
  files: { readonly cert: string; readonly key: string },
  what: string,
): Promise<void> {
  await writeCertFiles([
    { file: files.key, content: issued.keyPem, mode: KEY_FILE_MODE },
    { file: files.cert, content: issued.certPem, mode: CERT_FILE_MODE },
  ]);
  if (issued.cappedToCa)
    output.err(`grapevine: warning: the CA expires first; ${files.cert} expires with it\n`);
  output.out(
    `${what}: wrote ${files.cert} and ${files.key}, valid until ${day(issued.notAfter)}\n`,
  );
}

function withCreateOptions(command: Command, lifetimeMs: number): Command {
  const years = lifetimeMs / (365 * 24 * 60 * 60 * 1000);
  return command
    .option("--certs-dir <dir>", "the certs dir", DEFAULT_CERTS_DIR)
    .requiredOption("--ca-key <file>", "the CA's private key (keep it outside the certs dir)")
    .option("--lifetime <duration>", `hours or days, as 8760h or 365d (default: ${years} years)`)
    .option("--overwrite", "replace files that already exist");
}

function registerCreateCa(cert: Command, output: CliOutput): void {
  withCreateOptions(
    cert.command("create-ca").description("create the cluster's CA: ca.crt and its key"),
    CERT_LIFETIMES_MS.ca,
  ).action((values: CreateValues) =>
    reported(async () => {
      const files = { cert: path.join(values.certsDir, CA_CERT_FILE), key: values.caKey };
      const lifetimeMs = lifetimeOf(values, CERT_LIFETIMES_MS.ca);
      await refuseToOverwrite([files.cert, files.key], values.overwrite === true);
      await save(output, await createCa({ now: new Date(), lifetimeMs }), files, "CA");
    }),
  );
}

function registerCreateNode(cert: Command, output: CliOutput): void {
  withCreateOptions(
    cert
      .command("create-node")
      .description("create this machine's node certificate, signed by the CA")
      .requiredOption("--id <id>", "the node's id (its certificate's CN)")
      .requiredOption("--host <hosts>", "comma-separated DNS names and IP addresses it answers on"),
    CERT_LIFETIMES_MS.node,
  ).action((values: CreateValues & { readonly id: string; readonly host: string }) =>
    reported(async () => {
      const id = checkName("--id", values.id);
      const hosts = parseHosts("--host", values.host);
      const lifetimeMs = lifetimeOf(values, CERT_LIFETIMES_MS.node);
      const files = {
        cert: path.join(values.certsDir, NODE_CERT_FILE),
        key: path.join(values.certsDir, NODE_KEY_FILE),
      };
      await refuseToOverwrite([files.cert, files.key], values.overwrite === true);
      const validity = { now: new Date(), lifetimeMs };
      const issued = await withCa(values, (ca) => issueNodeCert(ca, { id, hosts }, validity));
      await save(output, issued, files, `node ${id}`);
    }),
  );
}

function registerCreateClient(cert: Command, output: CliOutput): void {
  withCreateOptions(
    cert
      .command("create-client")
      .description("create a client's certificate carrying its role, signed by the CA")
      .argument("<name>", "the client's name (its certificate's CN)")
      .requiredOption("--role <role>", `what it may do: ${ROLES.join(", ")}`),
    CERT_LIFETIMES_MS.client,
  ).action((rawName: string, values: CreateValues & { readonly role: string }) =>
    reported(async () => {
      const name = checkName("<name>", rawName);
      const role = parseRole("--role", values.role);
      const lifetimeMs = lifetimeOf(values, CERT_LIFETIMES_MS.client);
      const files = {
        cert: path.join(values.certsDir, clientCertFile(name)),
        key: path.join(values.certsDir, clientKeyFile(name)),
      };
      await refuseToOverwrite([files.cert, files.key], values.overwrite === true);
      const validity = { now: new Date(), lifetimeMs };
      const issued = await withCa(values, (ca) => issueClientCert(ca, { name, role }, validity));
      await save(output, issued, files, `client ${name} (${role})`);
    }),
  );
}

export function registerCertCommand(
  program: Command,
  output: CliOutput,
  setExit: (code: ExitCode) => void,
): void {
  const cert = program
    .command("cert")
    .description("create and list the cluster's TLS certificates (CA, nodes, clients)");
  registerCreateCa(cert, output);
  registerCreateNode(cert, output);
  registerCreateClient(cert, output);
  cert
    .command("list")
    .description("show the certificates of a certs dir: subject, role, hosts, expiry")
    .option("--certs-dir <dir>", "the certs dir", DEFAULT_CERTS_DIR)
    .action((values: { readonly certsDir: string }) =>
      reported(async () => {
        await listCertificates(output, values.certsDir, new Date());
        // Near expiry is a warning, not a failure: scripts that list still succeed.
        setExit(EXIT_CODES.ok);
      }),
    );
}
