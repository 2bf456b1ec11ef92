// cli/cert-files.ts — the file side of `grapevine cert`: reads the CA from a certs dir and its
// key, and writes new certificates and keys there without ever leaving a half-written file or
// replacing one the operator did not mean to.

import { access, mkdir, readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { CA_CERT_FILE, isCertificateFile } from "../security/cert-layout.js";
import type { CertificateAuthority } from "../security/issue.js";
import { writeFileAtomic } from "../storage/atomic-file.js";
import { CliError } from "./shared.js";

/** Private keys: readable by their owner only. */
export const KEY_FILE_MODE = 0o600;
/** Certificates are public: anyone on the machine may read them. */
export const CERT_FILE_MODE = 0o644;
/** The certs dir (and the CA key's dir, when we make it) is its owner's only. */
const PRIVATE_DIR_MODE = 0o700;

export interface FileToWrite {
  readonly file: string;
  readonly content: string;
  readonly mode: number;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses before anything is made when one of the files is there already: a new CA or node key
 * over an old one would strand every certificate signed for it.
 */
export async function refuseToOverwrite(
  files: readonly string[],
  overwrite: boolean,
): Promise<void> {
  if (overwrite) return;
  for (const file of files) {
    if (await exists(file))
      throw new CliError(`${file} already exists; pass --overwrite to replace it`);
  }
}

/** Each file written atomically with its mode; keys first, so a certificate never lacks its key. */
export async function writeCertFiles(files: readonly FileToWrite[]): Promise<void> {
  const ordered = [...files].sort((a, b) => a.mode - b.mode);
  for (const { file, content, mode } of ordered) {
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    await writeFileAtomic(file, content, mode);
  }
}

async function readNamed(file: string, what: string, hint: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliError(`no ${what} at ${file}: ${hint}`);
    throw new CliError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

export async function readCa(certsDir: string, caKey: string): Promise<CertificateAuthority> {
  const hint = "create one with `grapevine cert create-ca` (or pass --certs-dir, --ca-key)";
  return {
    certPem: await readNamed(path.join(certsDir, CA_CERT_FILE), "CA certificate", hint),
    keyPem: await readNamed(caKey, "CA key", hint),
  };
}

/** The certificate files of a certs dir, by name, with their PEM text. */
export async function readCertificates(
  certsDir: string,
): Promise<{ readonly file: string; readonly pem: string }[]> {
  let names: string[];
  try {
    names = await readdir(certsDir);
  } catch (error) {
    throw new CliError(`cannot read the certs dir ${certsDir}: ${(error as Error).message}`);
  }
  const files = names.filter(isCertificateFile).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      pem: await readNamed(path.join(certsDir, file), "certificate", "it vanished while listed"),
    })),
  );
}
