// cli/cert-list.ts — `grapevine cert list`: one line per certificate of a certs dir (kind, subject,
// role, hosts, expiry), and a warning on stderr for each one near or past its end
// (security/expiry.ts says how near).

import { CERT_EXPIRY_WARNING_DAYS } from "../security/expiry.js";
import { describeCertificate, type CertDescription } from "../security/inspect.js";
import { readCertificates } from "./cert-files.js";
import type { CliOutput } from "./shared.js";

export interface CertListEntry {
  readonly file: string;
  /** The certificate, or why it could not be read. */
  readonly description: CertDescription | { readonly unreadable: string };
}

const HEAD = ["FILE", "KIND", "CN", "ROLE", "HOSTS", "EXPIRES", "DAYS LEFT", "STATUS"] as const;
const COLUMN_GAP = "  ";

function statusOf(description: CertDescription): string {
  if (description.expiry.expired) return "EXPIRED";
  return description.expiry.nearExpiry ? "NEAR EXPIRY" : "ok";
}

function rowOf({ file, description }: CertListEntry): string[] {
  if ("unreadable" in description) return [file, "?", "?", "-", "-", "-", "-", "UNREADABLE"];
  return [
    file,
    description.kind,
    description.commonName ?? "-",
    description.role ?? "-",
    description.hosts.length === 0 ? "-" : description.hosts.join(","),
    description.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"),
    String(description.expiry.daysLeft),
    statusOf(description),
  ];
}

/** The table, columns aligned, one line per certificate, a header first. */
export function formatCertList(entries: readonly CertListEntry[]): string {
  const rows = [[...HEAD], ...entries.map(rowOf)];
  const widths = HEAD.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] as string).length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] as number))
        .join(COLUMN_GAP)
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** One line per certificate that needs an operator: near expiry, expired or unreadable. */
export function certWarnings(entries: readonly CertListEntry[]): string[] {
  return entries.flatMap(({ file, description }) => {
    if ("unreadable" in description)
      return [`${file} is not a certificate: ${description.unreadable}`];
    const { daysLeft, expired, nearExpiry } = description.expiry;
    if (expired) return [`${file} has expired (${description.notAfter.toISOString()})`];
    if (nearExpiry)
      return [
        `${file} expires in ${daysLeft} days (fewer than ${CERT_EXPIRY_WARNING_DAYS}): rotate it`,
      ];
    return [];
  });
}

function describeOrWhy(pem: string, now: Date): CertListEntry["description"] {
  try {
    return describeCertificate(pem, now);
  } catch (error) {
    return { unreadable: error instanceof Error ? error.message : String(error) };
  }
}

export async function listCertificates(
  output: CliOutput,
  certsDir: string,
  now: Date,
): Promise<void> {
  const files = await readCertificates(certsDir);
  const entries = files.map(({ file, pem }) => ({ file, description: describeOrWhy(pem, now) }));
  if (entries.length === 0) {
    output.err(`grapevine: no certificates in ${certsDir}\n`);
    return;
  }
  output.out(formatCertList(entries));
  for (const warning of certWarnings(entries)) output.err(`grapevine: warning: ${warning}\n`);
}
