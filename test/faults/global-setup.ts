// Runs once before the fault suite: it needs root (network namespaces, veth links, iptables), `ip`
// and `iptables`; without them it says so on stderr and the run fails, rather than skipping
// silently. It also removes the namespaces and links a crashed earlier run left behind.

import { execFileSync } from "node:child_process";
import { removeLeftovers } from "./network.js";

function missing(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

export default function setup(): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0)
    problems.push(
      "it must run as root (it creates network namespaces, veth links and iptables rules)",
    );
  for (const command of ["ip", "iptables"])
    if (missing(command)) problems.push(`\`${command}\` is not installed`);
  if (problems.length > 0) {
    const message = `the fault suite (test/faults) cannot run: ${problems.join("; ")}`;
    process.stderr.write(`${message}\n`);
    throw new Error(message);
  }
  const removed = removeLeftovers();
  if (removed.length > 0)
    process.stderr.write(`removed leftovers of an earlier fault run: ${removed.join(", ")}\n`);
}
