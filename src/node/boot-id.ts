// node/boot-id.ts — the kernel's id of the current boot: it changes when the machine restarts (a
// power loss), not when a process does (run-record.ts).

import { readFileSync } from "node:fs";
import os from "node:os";

const LINUX_BOOT_ID = "/proc/sys/kernel/random/boot_id";
/**
 * Where there is no boot id, the boot time stands in, rounded so that clock slew does not move it.
 */
const BOOT_TIME_ROUNDING_S = 60;

export function readBootId(): string {
  try {
    const id = readFileSync(LINUX_BOOT_ID, "utf8").trim();
    if (id.length > 0) return id;
  } catch {
    // Not Linux (a laptop): the boot time below.
  }
  const bootS = Date.now() / 1000 - os.uptime();
  return `boot-time-${Math.round(bootS / BOOT_TIME_ROUNDING_S)}`;
}
