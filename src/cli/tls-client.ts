// cli/tls-client.ts — `--certs-dir` on the commands that talk to nodes (issue 18 §2): the CA of the
// certs dir to verify nodes by, and a client certificate from it when there is one (the first
// client.NAME.crt by name that has its key, security/cert-layout.ts), presented to every node.
//
// A command is one process doing one thing, so the material is read once before its action (a
// commander preAction hook) and kept here for every connection the command opens; the node URL
// options are rewritten there too, so `--node` and `--nodes` default to https:// with a certs dir
// and every command's own URL handling stays as it was.

import type { Command } from "commander";
import { readdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { connect as tlsConnectSocket } from "node:tls";
import { CERT_EXPIRY_WARNING_DAYS, expiryOf } from "../security/expiry.js";
import { processEnvironment } from "../node/config.js";
import {
  CA_CERT_FILE,
  clientKeyFile,
  NODE_CERT_FILE,
  NODE_KEY_FILE,
} from "../security/cert-layout.js";
import { CliError } from "./shared.js";

/** What undici's `connect` options take for TLS. */
export interface ClientTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  /** The client certificate's file, for messages; none when only the CA is used. */
  readonly certFile?: string;
}

export const CERTS_DIR_ENV = "GRAPEVINE_CERTS_DIR";
/** With a certs dir and no --node, GRAPEVINE_NODE: SPEC §1's default node, over HTTPS. */
export const DEFAULT_TLS_NODE_URL = "https://127.0.0.1:7001";
const CLIENT_CERT = /^client\.(.+)\.crt$/;

let current: ClientTls | null = null;

/** Spread into undici's `connect` options: the CA and client certificate, or nothing. */
export function tlsConnect(): { ca?: string; cert?: string; key?: string } {
  if (current === null) return {};
  const { ca, cert, key } = current;
  return { ca, ...(cert === undefined ? {} : { cert, key }) };
}

async function readNamed(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`--certs-dir: cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/**
 * Reads the CA and the first client certificate with a key of `certsDir`; with none, the node
 * certificate and key when the dir is a node's (a node admits it only to read /cluster/* and to
 * create a token: how `grapevine token create` makes the first admin token on a node's machine).
 */
export async function loadClientTls(certsDir: string): Promise<ClientTls> {
  const ca = await readNamed(path.join(certsDir, CA_CERT_FILE), "CA certificate");
  const names = (await readdir(certsDir)).sort();
  for (const file of names) {
    const name = CLIENT_CERT.exec(file)?.[1];
    if (name === undefined || !names.includes(clientKeyFile(name))) continue;
    return {
      ca,
      cert: await readNamed(path.join(certsDir, file), "client certificate"),
      key: await readNamed(path.join(certsDir, clientKeyFile(name)), "client key"),
      certFile: file,
    };
  }
  if (names.includes(NODE_CERT_FILE) && names.includes(NODE_KEY_FILE))
    return {
      ca,
      cert: await readNamed(path.join(certsDir, NODE_CERT_FILE), "node certificate"),
      key: await readNamed(path.join(certsDir, NODE_KEY_FILE), "node key"),
      certFile: NODE_CERT_FILE,
    };
  return { ca };
}

/** A node URL without a scheme is https:// with a certs dir (a bare HOST:PORT, as --node takes). */
function withTlsScheme(url: string): string {
  return /^[a-z]+:\/\//i.test(url.trim()) ? url : `https://${url.trim()}`;
}

async function useCertsDir(command: Command): Promise<void> {
  const env = processEnvironment();
  const given = command.getOptionValue("certsDir") as string | undefined;
  const certsDir = given ?? (env[CERTS_DIR_ENV] === "" ? undefined : env[CERTS_DIR_ENV]);
  current = certsDir === undefined ? null : await loadClientTls(path.resolve(certsDir));
  if (current === null) return;
  const node = command.getOptionValue("node") as string | undefined;
  if (node !== undefined) command.setOptionValue("node", withTlsScheme(node));
  else if (env["GRAPEVINE_NODE"] === undefined && command.options.some((o) => o.long === "--node"))
    command.setOptionValue("node", DEFAULT_TLS_NODE_URL);
  const nodes = command.getOptionValue("nodes") as string | undefined;
  if (nodes !== undefined)
    command.setOptionValue("nodes", nodes.split(",").map(withTlsScheme).join(","));
}

/** Adds `--certs-dir` to a command that talks to nodes, read before its action runs. */
export function addCertsDirOption(command: Command): Command {
  return command
    .option(
      "--certs-dir <dir>",
      `speak TLS to the nodes: ca.crt and the first client.NAME.crt of DIR (default: ${CERTS_DIR_ENV}; none: plain HTTP); --node then defaults to ${DEFAULT_TLS_NODE_URL}`,
    )
    .hook("preAction", useCertsDir);
}

/** How long `grapevine status` waits for the node's certificate before going on without it. */
const SERVED_CERT_TIMEOUT_MS = 5_000;

/**
 * The notAfter of the certificate the node at an https:// URL serves, read from a handshake of its
 * own (the answer's connection does not show it); null over http:// or when none could be read.
 */
export function servedCertNotAfter(nodeUrl: string): Promise<Date | null> {
  const url = new URL(nodeUrl);
  if (url.protocol !== "https:" || current === null) return Promise.resolve(null);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const socket = tlsConnectSocket({
      host,
      port: Number(url.port || 443),
      ...tlsConnect(),
      timeout: SERVED_CERT_TIMEOUT_MS,
      ...(isIP(host) === 0 ? { servername: host } : {}),
    });
    const done = (value: Date | null): void => {
      socket.destroy();
      resolve(value);
    };
    socket.once("secureConnect", () => {
      // An empty object when the node sent none; then valid_to is absent, whatever its type says.
      const validTo = (socket.getPeerCertificate() as { valid_to?: string }).valid_to;
      done(validTo === undefined ? null : new Date(validTo));
    });
    socket.once("error", () => done(null));
    socket.once("timeout", () => done(null));
  });
}

/** The warning line `grapevine status` prints when the node's certificate is near its end. */
export function expiryWarning(notAfter: Date, now: Date): string | null {
  const expiry = expiryOf(notAfter, now);
  if (expiry.expired) return `warning: the node's certificate expired on ${notAfter.toISOString()}`;
  if (!expiry.nearExpiry) return null;
  return `warning: the node's certificate expires in ${expiry.daysLeft} days (${notAfter.toISOString()}), under ${CERT_EXPIRY_WARNING_DAYS}: rotate it (grapevine cert create-node --overwrite, then SIGHUP)`;
}
