// security/cert-inputs.ts — the checks on what an operator puts into a certificate: a node id or
// client name (also part of a file name), the hosts a node answers on, a lifetime. A bad value is a
// CertInputError naming its flag, which the CLI reports as a usage error.

import { isIP } from "node:net";
import { NODE_ID_BYTES_MAX } from "../core/limits.js";
import { isRole, ROLES, type Role } from "./roles.js";

export class CertInputError extends Error {
  override readonly name = "CertInputError";
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

export const CERT_INPUT_LIMITS = {
  /** A node id's bound (core/limits.ts); a client name takes the same. */
  nameBytesMax: NODE_ID_BYTES_MAX,
  /** Hosts in one node certificate: its names and addresses, never a fleet's. */
  hostsMax: 64,
  /** RFC 1035: a DNS name's length and a label's. */
  dnsNameMax: 253,
  dnsLabelMax: 63,
  /** A certificate lives at least an hour (past its backdated start) and at most 100 years. */
  lifetimeHoursMin: 1,
  lifetimeHoursMax: 100 * 365 * 24,
} as const;

/** A node's id (the same characters as `grapevine start --id`) or a client's name. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const HOUR_MS = 60 * 60 * 1000;

export interface HostName {
  readonly type: "dns" | "ip";
  readonly value: string;
}

export function checkName(flag: string, text: string): string {
  const name = text.trim();
  if (
    name.length === 0 ||
    Buffer.byteLength(name) > CERT_INPUT_LIMITS.nameBytesMax ||
    !NAME_PATTERN.test(name)
  ) {
    throw new CertInputError(
      flag,
      `${flag} must be 1 to ${CERT_INPUT_LIMITS.nameBytesMax} letters, digits, '.', '_' or '-', starting with a letter or digit, got ${JSON.stringify(text)}`,
    );
  }
  return name;
}

function isDnsName(text: string): boolean {
  if (text.length > CERT_INPUT_LIMITS.dnsNameMax) return false;
  const labels = text.split(".");
  // A name of digits and dots only is an address written wrong, not a host name.
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return labels.every(
    (label) => label.length <= CERT_INPUT_LIMITS.dnsLabelMax && DNS_LABEL.test(label),
  );
}

/** `--host h1,h2,…`: each a DNS name or an IP address (v4 or v6), in the order given, once each. */
export function parseHosts(flag: string, text: string): HostName[] {
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0)
    throw new CertInputError(flag, `${flag} needs at least one host name or IP address`);
  if (items.length > CERT_INPUT_LIMITS.hostsMax)
    throw new CertInputError(flag, `${flag} takes at most ${CERT_INPUT_LIMITS.hostsMax} hosts`);
  const hosts: HostName[] = [];
  for (const item of new Set(items)) {
    if (isIP(item) !== 0) hosts.push({ type: "ip", value: item });
    else if (isDnsName(item)) hosts.push({ type: "dns", value: item.toLowerCase() });
    else
      throw new CertInputError(
        flag,
        `${flag}: ${JSON.stringify(item)} is neither a DNS name nor an IP address (no ports, no brackets)`,
      );
  }
  return hosts;
}

export function parseRole(flag: string, text: string): Role {
  const role = text.trim();
  if (!isRole(role))
    throw new CertInputError(
      flag,
      `${flag} must be one of ${ROLES.join(", ")}, got ${JSON.stringify(text)}`,
    );
  return role;
}

/** `--lifetime`: hours or days, as `8760h` or `365d`, in milliseconds. */
export function parseLifetime(flag: string, text: string): number {
  const match = /^(\d+)([hd])$/.exec(text.trim());
  const hours = match === null ? NaN : Number(match[1]) * (match[2] === "d" ? 24 : 1);
  const { lifetimeHoursMin: min, lifetimeHoursMax: max } = CERT_INPUT_LIMITS;
  if (!Number.isSafeInteger(hours) || hours < min || hours > max)
    throw new CertInputError(
      flag,
      `${flag} must be hours or days from ${min}h to ${max / 24}d (as 8760h or 365d), got ${JSON.stringify(text)}`,
    );
  return hours * HOUR_MS;
}
