// test/faults/network.ts — a private network of Linux network namespaces for the fault suite.
//
// Layout. One bridge namespace holds a Linux bridge; each node gets its own namespace with one veth
// whose other end is a port of that bridge; the test process (the root namespace) gets one more
// veth to the bridge, so it reaches every node as a client at 10.A.B.<i> while the nodes talk to
// each other over the same bridge:
//
//     root ns (test, clients) ─ veth ─┐
//     node ns 1 (10.A.B.1) ─── veth ──┤ bridge ns: br0
//     node ns 2 (10.A.B.2) ─── veth ──┤
//     ...                             │
//
// Faults. cut(i) sets node i's bridge port down: nothing reaches it or leaves it, clients included.
// partition(groups) installs iptables DROP rules in every node namespace for the addresses of the
// other groups (both directions), so nodes on each side keep serving clients — Jepsen's split with
// clients on both sides. isolateOneDirection(from, to) drops only packets from `from` arriving at
// `to`. heal() brings every port up and flushes every rule.
//
// Names. Everything a run creates is named `gvf<pid>-<n>…` (pid of the test process, n a counter),
// so a later run can tell a crashed run's leftovers (pid no longer alive) and remove them
// (removeLeftovers); destroy() removes this network's namespaces and links, and an exit hook does
// so synchronously if the worker dies first. Traffic only ever goes to addresses inside these
// namespaces.

import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { pidAlive } from "../support/process-cluster.js";

const run = promisify(execFile);

/** How long one `ip`/`iptables` command may take. */
const COMMAND_TIMEOUT_MS = 10_000;
const NAME_PATTERN = /^gvf(\d+)-\d+/;

let networksMade = 0;
const liveNetworks = new Set<FaultNetwork>();
process.once("exit", () => {
  for (const network of liveNetworks) network.destroySync();
});

async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], { timeout: COMMAND_TIMEOUT_MS });
    return stdout;
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new Error(`${command} ${args.join(" ")} failed: ${detail}`);
  }
}

function namespaces(): string[] {
  try {
    return execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: COMMAND_TIMEOUT_MS })
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((name) => name !== "");
  } catch {
    return [];
  }
}

/**
 * Removes namespaces and root-namespace links named by an earlier run whose process is gone
 * (a crashed or killed test run). Links inside a namespace go with it.
 */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  const stale = (name: string): boolean => {
    const match = NAME_PATTERN.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !pidAlive(Number(match[1]));
  };
  for (const name of namespaces().filter(stale)) {
    try {
      execFileSync("ip", ["netns", "delete", name], {
        timeout: COMMAND_TIMEOUT_MS,
        stdio: "ignore",
      });
      removed.push(name);
    } catch {
      // Someone else removed it meanwhile.
    }
  }
  const links = execFileSync("ip", ["-o", "link", "show"], {
    encoding: "utf8",
    timeout: COMMAND_TIMEOUT_MS,
  });
  for (const line of links.split("\n")) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name === undefined || !stale(name)) continue;
    try {
      execFileSync("ip", ["link", "delete", name], {
        timeout: COMMAND_TIMEOUT_MS,
        stdio: "ignore",
      });
      removed.push(name);
    } catch {
      // Gone with its peer already.
    }
  }
  return removed;
}

export class FaultNetwork {
  /** `gvf<pid>-<n>`: the prefix of every name this network uses. */
  readonly prefix: string;
  /** The /24's first three octets, e.g. "10.81.3". */
  readonly subnet: string;
  readonly size: number;
  readonly #created: string[] = [];
  #hostLink: string | null = null;
  #destroyed = false;

  private constructor(size: number) {
    networksMade++;
    this.prefix = `gvf${process.pid}-${networksMade}`;
    // One /24 per network, from the pid and the counter: two live runs never share one in practice,
    // and none of these is the machine's own network (checked in create()).
    this.subnet = `10.${50 + (process.pid % 200)}.${networksMade % 250}`;
    this.size = size;
  }

  /** Creates the bridge, `size` node namespaces and the test's own link to the bridge. */
  static async create(size: number): Promise<FaultNetwork> {
    if (size < 1 || size > 200) throw new Error("a fault network holds 1..200 nodes");
    const network = new FaultNetwork(size);
    const routes = await sh("ip", ["-4", "route"]);
    if (routes.includes(`${network.subnet}.`))
      throw new Error(`${network.subnet}.0/24 is already routed here; not touching it`);
    liveNetworks.add(network);
    try {
      await network.#build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  get bridgeNamespace(): string {
    return `${this.prefix}br`;
  }

  /** Node i's namespace, i in 1..size. */
  namespace(i: number): string {
    return `${this.prefix}n${i}`;
  }

  /** Node i's address, i in 1..size. */
  address(i: number): string {
    return `${this.subnet}.${i}`;
  }

  /**
   * What runs a command inside node i's namespace (ip netns exec execs it: the PID stays the
   * command's).
   */
  commandPrefix(i: number): string[] {
    return ["ip", "netns", "exec", this.namespace(i)];
  }

  /** Node i's port on the bridge. */
  #port(i: number): string {
    return `${this.prefix}b${i}`;
  }

  async #build(): Promise<void> {
    const bridge = this.bridgeNamespace;
    await sh("ip", ["netns", "add", bridge]);
    this.#created.push(bridge);
    await sh("ip", ["-n", bridge, "link", "add", "br0", "type", "bridge"]);
    await sh("ip", ["-n", bridge, "link", "set", "br0", "up"]);
    await sh("ip", ["-n", bridge, "link", "set", "lo", "up"]);
    for (let i = 1; i <= this.size; i++) {
      const ns = this.namespace(i);
      await sh("ip", ["netns", "add", ns]);
      this.#created.push(ns);
      const inside = `${this.prefix}e${i}`;
      await sh("ip", ["link", "add", this.#port(i), "type", "veth", "peer", "name", inside]);
      await sh("ip", ["link", "set", this.#port(i), "netns", bridge]);
      await sh("ip", ["link", "set", inside, "netns", ns]);
      await sh("ip", ["-n", bridge, "link", "set", this.#port(i), "master", "br0", "up"]);
      await sh("ip", ["-n", ns, "addr", "add", `${this.address(i)}/24`, "dev", inside]);
      await sh("ip", ["-n", ns, "link", "set", inside, "up"]);
      await sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    // The test's own link: clients in the root namespace reach every node through the bridge.
    const host = `${this.prefix}h`;
    const hostPeer = `${this.prefix}hb`;
    await sh("ip", ["link", "add", host, "type", "veth", "peer", "name", hostPeer]);
    this.#hostLink = host;
    await sh("ip", ["link", "set", hostPeer, "netns", bridge]);
    await sh("ip", ["-n", bridge, "link", "set", hostPeer, "master", "br0", "up"]);
    await sh("ip", ["addr", "add", `${this.subnet}.254/24`, "dev", host]);
    await sh("ip", ["link", "set", host, "up"]);
  }

  /** Node i can neither send nor receive anything: its bridge port is down. */
  async cut(i: number): Promise<void> {
    await sh("ip", ["-n", this.bridgeNamespace, "link", "set", this.#port(i), "down"]);
  }

  /** Node i's bridge port up again. */
  async reconnect(i: number): Promise<void> {
    await sh("ip", ["-n", this.bridgeNamespace, "link", "set", this.#port(i), "up"]);
  }

  /**
   * Nodes in different groups cannot reach each other (both directions); the test's clients still
   * reach every node. Nodes in no group are untouched.
   */
  async partition(groups: readonly (readonly number[])[]): Promise<void> {
    for (const [index, group] of groups.entries()) {
      const others = groups.filter((_, other) => other !== index).flat();
      for (const node of group) {
        for (const peer of others) await this.#drop(node, peer, "both");
      }
    }
  }

  /** Packets from `from` no longer arrive at `to`; `to`'s packets to `from` still go out. */
  async isolateOneDirection(from: number, to: number): Promise<void> {
    await this.#drop(to, from, "in");
  }

  /** Every port up and every rule gone. */
  async heal(): Promise<void> {
    for (let i = 1; i <= this.size; i++) {
      await this.reconnect(i);
      await sh("ip", ["netns", "exec", this.namespace(i), "iptables", "-F"]);
    }
  }

  /** In node `at`'s namespace, drops traffic from (and with "both", to) node `peer`. */
  async #drop(at: number, peer: number, direction: "in" | "both"): Promise<void> {
    const exec = ["netns", "exec", this.namespace(at), "iptables"];
    await sh("ip", [...exec, "-A", "INPUT", "-s", this.address(peer), "-j", "DROP"]);
    if (direction === "both")
      await sh("ip", [...exec, "-A", "OUTPUT", "-d", this.address(peer), "-j", "DROP"]);
  }

  /** Removes every namespace and link this network made (processes inside must be gone first). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    liveNetworks.delete(this);
    if (this.#hostLink !== null)
      await sh("ip", ["link", "delete", this.#hostLink]).catch(() => undefined);
    for (const ns of this.#created.reverse())
      await sh("ip", ["netns", "delete", ns]).catch(() => undefined);
  }

  /** destroy() for the exit hook, where nothing asynchronous runs. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const attempt = (args: string[]): void => {
      try {
        execFileSync("ip", args, { timeout: COMMAND_TIMEOUT_MS, stdio: "ignore" });
      } catch {
        // Already gone.
      }
    };
    if (this.#hostLink !== null) attempt(["link", "delete", this.#hostLink]);
    for (const ns of this.#created.reverse()) attempt(["netns", "delete", ns]);
  }
}
