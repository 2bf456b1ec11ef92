// sim/data-cluster.ts — a cluster of real Grapevine nodes in one process, under virtual time: the
// data path's simulator (issue 15). Each machine has a simulated disk (sim-disk.ts) that outlives
// its processes; each process life is the node's own composition root (node/build-node.ts
// buildNodeCore) given simulated ports: a life clock over the shared virtual clock (life-clock.ts),
// a wall clock that may be offset, streams of chance derived from the run seed, the disk's
// database and state files, and the simulated network's HTTP (sim-http.ts), which delivers into
// the node's own node-to-node routes without fastify (net/internal-routes.ts).
//
// Faults act on what they act on in life: a kill ends the process (its timers are silenced, its
// socket closed) and keeps the disk as SIGKILL leaves it; a power loss also drops the disk's
// unsynced tail; a pause holds the process's timers and the messages sent to it; a clock offset
// moves only that machine's wall clock. A restart is a new life on the same disk and address.

import type { Address } from "../core/ids.js";
import { createRandom, type Random } from "../core/random.js";
import { buildNodeCore, type BuiltNodeCore } from "../node/build-node.js";
import { parseNodeConfig, type NodeConfig } from "../node/config.js";
import { createLogger, type Logger } from "../node/logger.js";
import type { RandomPurpose } from "../node/node-ports.js";
import { clusterRouteOptions, nodeRouteGroups } from "../node/node-route-options.js";
import { clusterStatusBody } from "../api/cluster-routes.js";
import { InternalRoutes } from "../net/internal-routes.js";
import type { KeyedRecord } from "../storage/record.js";
import { LifeClock } from "./life-clock.js";
import type { ClientView, NodeApi } from "./sim-client.js";
import type { DiskOperation } from "./sim-database.js";
import { SimDisk } from "./sim-disk.js";
import { SimHttpNetwork, type SimHttpRoutes } from "./sim-http.js";
import { childSeed } from "./seeds.js";
import type { VirtualClock } from "./virtual-clock.js";

export interface DataClusterOptions {
  readonly seed: number;
  readonly clock: VirtualClock;
  /** Machines, named n1..nN; the first min(3, N) are the seeds. */
  readonly nodes: number;
  /** Spare machines after them (nN+1..), not started: a bootstrap starts one and it joins. */
  readonly spares?: number;
  readonly replicationFactor: number;
  /** Node options (SPEC §1 flags, without dashes) on top of the simulator's defaults. */
  readonly nodeFlags?: Readonly<Record<string, string>>;
  /** A logger for the nodes; silent by default. */
  readonly logger?: Logger;
  /** The nodes' pending hint bytes per target (storage/hints.ts); its default otherwise. */
  readonly hintBytesPerTargetMax?: number;
}

export type MachineState = "up" | "paused" | "down";

/**
 * A spare waits to join; a member is in the cluster (whatever its state); a machine that left is
 * gone for good.
 */
export type MachineRole = "spare" | "member" | "left";

/** How a node asked to end its process (a decommission: 0; a failed bootstrap: 1). */
export interface NodeExit {
  readonly code: number;
  readonly reason: string;
}

interface Machine {
  readonly id: string;
  readonly address: Address;
  readonly disk: SimDisk;
  state: MachineState;
  role: MachineRole;
  lives: number;
  /** The machine's boots: a power loss is followed by a new one (the node's boot id). */
  boots: number;
  life: LifeClock | null;
  node: BuiltNodeCore | null;
  clockOffsetMs: number;
  /** Resolvers of clients waiting for this paused machine. */
  waiting: (() => void)[];
}

/**
 * Flags every simulated node gets unless the run says otherwise. `sync on`: the runs include power
 * losses, and SPEC §4 promises acknowledged writes survive them only with --sync on (seed
 * 1078068180 showed it). A run with sync off is judged by the weaker promise that then applies
 * (history/power-loss.ts).
 */
const SIM_NODE_FLAGS: Readonly<Record<string, string>> = {
  sync: "on",
  vnodes: "16",
  "log-level": "silent",
  "anti-entropy-interval-s": "off",
  "max-value-bytes": "16384",
};

/**
 * Records per range-stream page in the simulated nodes (the real default is 1,024): a run's range
 * holds a few dozen keys, so with the default every stream is one page and its cursor is never
 * resumed from; a page this small makes every range take several (a stream bug that repeats or
 * skips records after a cursor showed only this way: bench/sim-bugs).
 */
const SIM_STREAM_PAGE_RECORDS_MAX = 4;

/**
 * What a simulated node answers on its address: the node-to-node routes, and the one public route
 * other nodes read during ring changes (GET /cluster/status, stream-client.ts memberView).
 */
function simulatedRoutes(node: BuiltNodeCore): SimHttpRoutes {
  const internal = new InternalRoutes(nodeRouteGroups(node));
  const statusOptions = clusterRouteOptions(node);
  return {
    handle: (request) => {
      if (request.method !== "GET" || request.path !== "/cluster/status")
        return internal.handle(request);
      const body = Buffer.from(JSON.stringify(clusterStatusBody(statusOptions)));
      return Promise.resolve({ statusCode: 200, contentType: "application/json", body });
    },
  };
}

export class DataCluster implements ClientView {
  readonly clock: VirtualClock;
  readonly network: SimHttpNetwork;
  readonly #options: DataClusterOptions;
  readonly #machines = new Map<string, Machine>();
  readonly #logger: Logger;
  readonly #seeds: Address[];
  /** Told when a node ends its own process (node.exitRequested), after its graceful stop. */
  onNodeExit: ((id: string, exit: NodeExit) => void) | null = null;
  #onStoreApply: ((id: string, writes: readonly KeyedRecord[]) => void) | null = null;

  constructor(options: DataClusterOptions) {
    this.#options = options;
    this.clock = options.clock;
    this.network = new SimHttpNetwork({
      clock: options.clock,
      seed: childSeed(options.seed, "net"),
    });
    this.#logger = options.logger ?? createLogger({ level: "silent" });
    const spares = options.spares ?? 0;
    for (let i = 1; i <= options.nodes + spares; i++)
      this.#addMachine(`n${i}`, i, i <= options.nodes ? "member" : "spare");
    // The seeds stay the first machines even after they leave, as a real config file's list does.
    this.#seeds = [...this.#machines.values()]
      .slice(0, Math.min(3, options.nodes))
      .map((m) => m.address);
  }

  /** The cluster's members, up or not, in machine order: neither spares nor machines that left. */
  ids(): string[] {
    return this.#idsIn("member");
  }

  /** Spare machines not yet started. */
  spareIds(): string[] {
    return this.#idsIn("spare");
  }

  /** Machines that left the cluster (decommissioned or removed). */
  leftIds(): string[] {
    return this.#idsIn("left");
  }

  roleOf(id: string): MachineRole {
    return this.#machine(id).role;
  }

  /** A removed member's machine leaves for good (its node, if any, ends as by a kill). */
  retire(id: string): void {
    const machine = this.#machine(id);
    this.#end(machine);
    machine.role = "left";
  }

  stateOf(id: string): MachineState {
    return this.#machine(id).state;
  }

  node(id: string): BuiltNodeCore | null {
    return this.#machine(id).node;
  }

  disk(id: string): SimDisk {
    return this.#machine(id).disk;
  }

  /** Starts a machine's next life (its first start, or a restart after a kill). */
  async start(id: string): Promise<void> {
    const machine = this.#machine(id);
    if (machine.state !== "down") throw new Error(`${id} is ${machine.state}, not down`);
    if (machine.role === "left") throw new Error(`${id} left the cluster`);
    // A spare's first start is its bootstrap: from then on it is a member.
    machine.role = "member";
    machine.lives += 1;
    const life = new LifeClock(this.clock);
    machine.life = life;
    let node: BuiltNodeCore;
    try {
      node = await buildNodeCore(this.#configOf(machine), {
        clock: life,
        logger: this.#logger,
        // Whole microseconds, as Date.now() × 1000 is: virtual time turns fractional after a
        // fractional delay (a stream's rate limit), and the HLC takes integers only.
        wallUs: () => Math.floor((this.clock.nowMs() + machine.clockOffsetMs) * 1000),
        randomFor: (purpose) => this.#randomOf(machine, purpose),
        openDatabase: () => machine.disk.openDatabase(),
        stateFiles: machine.disk.openFiles(),
        bootId: () => `${machine.id}-boot-${machine.boots}`,
        peerHttp: this.network.client(machine.address, life),
        ...(this.#options.hintBytesPerTargetMax === undefined
          ? {}
          : { hintBytesPerTargetMax: this.#options.hintBytesPerTargetMax }),
        streamPageRecordsMax: SIM_STREAM_PAGE_RECORDS_MAX,
        onStoreApply: (writes) => this.#onStoreApply?.(machine.id, writes),
      });
    } catch (error) {
      // A failed start (a full disk) ends the process as the real node's would: nothing stays open.
      life.kill();
      machine.disk.kill();
      machine.life = null;
      throw error;
    }
    machine.node = node;
    machine.state = "up";
    this.network.listen(machine.address, simulatedRoutes(node));
    void node.exitRequested.then((exit) => this.#exit(machine, node, exit));
    node.begin();
  }

  /**
   * What the shell does (cli/start.ts): a graceful stop, then the process ends; after exit 0 the
   * machine is gone.
   */
  async #exit(machine: Machine, node: BuiltNodeCore, exit: NodeExit): Promise<void> {
    if (machine.node !== node) return;
    await node.stop();
    if (machine.node !== node) return;
    this.#end(machine);
    if (exit.code === 0) machine.role = "left";
    this.onNodeExit?.(machine.id, exit);
  }

  /** SIGKILL: the process ends where it stands; the disk keeps what reached it. */
  kill(id: string): void {
    this.#end(this.#machine(id));
  }

  /** The machine loses power: a kill, and the disk loses its unsynced tail. */
  powerLoss(id: string): void {
    const machine = this.#machine(id);
    this.#end(machine);
    machine.disk.powerLoss();
    machine.boots += 1;
  }

  pause(id: string): void {
    const machine = this.#machine(id);
    if (machine.state !== "up") return;
    machine.state = "paused";
    machine.life?.pause();
    this.network.pause(machine.address);
  }

  resume(id: string): void {
    const machine = this.#machine(id);
    if (machine.state !== "paused") return;
    machine.state = "up";
    this.network.resume(machine.address);
    machine.life?.resume();
    const waiting = machine.waiting;
    machine.waiting = [];
    for (const wake of waiting) wake();
  }

  setClockOffset(id: string, offsetMs: number): void {
    this.#machine(id).clockOffsetMs = offsetMs;
  }

  /** The machine's wall clock now: virtual time plus its offset, ms. */
  wallMsOf(id: string): number {
    return this.clock.nowMs() + this.#machine(id).clockOffsetMs;
  }

  /** Calls `listener` with every batch any machine's disk takes, spares' included. */
  watchDiskBatches(listener: (id: string, operations: readonly DiskOperation[]) => void): void {
    for (const machine of this.#machines.values()) {
      machine.disk.onBatch = (operations) => listener(machine.id, operations);
    }
  }

  /**
   * Calls `listener` with the writes every node hands its store, as it hands them (before they
   * queue, and well before a slow disk lands them).
   */
  watchStoreApplies(listener: (id: string, writes: readonly KeyedRecord[]) => void): void {
    this.#onStoreApply = listener;
  }

  addressOf(id: string): Address {
    return this.#machine(id).address;
  }

  apiOf(id: string): NodeApi | undefined {
    const node = this.#machine(id).node;
    if (node === null) return undefined;
    return {
      write: (request) => node.coordinator.write(request),
      delete: (request) => node.coordinator.delete(request),
      read: (request) => node.readRepair.read(request),
    };
  }

  whenRunning(id: string): Promise<void> {
    const machine = this.#machine(id);
    if (machine.state !== "paused") return Promise.resolve();
    return new Promise((resolve) => machine.waiting.push(resolve));
  }

  #end(machine: Machine): void {
    if (machine.state === "down") return;
    machine.life?.kill();
    machine.disk.kill();
    this.network.crash(machine.address);
    machine.state = "down";
    machine.life = null;
    machine.node = null;
    // A client waiting on a paused machine that died is refused, as by a closed socket.
    const waiting = machine.waiting;
    machine.waiting = [];
    for (const wake of waiting) wake();
  }

  #idsIn(role: MachineRole): string[] {
    return [...this.#machines.values()]
      .filter((machine) => machine.role === role)
      .map((machine) => machine.id);
  }

  #addMachine(id: string, index: number, role: MachineRole): void {
    const disk = new SimDisk({
      clock: this.clock,
      random: createRandom(childSeed(this.#options.seed, `disk:${id}`)),
      name: id,
    });
    this.#machines.set(id, {
      id,
      address: `10.0.0.${index}:7000`,
      disk,
      state: "down",
      role,
      lives: 0,
      boots: 1,
      life: null,
      node: null,
      clockOffsetMs: 0,
      waiting: [],
    });
  }

  #configOf(machine: Machine): NodeConfig {
    const seeds = this.#seeds;
    return parseNodeConfig(
      {
        ...SIM_NODE_FLAGS,
        id: machine.id,
        listen: machine.address,
        "data-dir": `/sim/${machine.id}`,
        seeds: seeds.join(","),
        "replication-factor": String(this.#options.replicationFactor),
        ...this.#options.nodeFlags,
      },
      {},
    );
  }

  #randomOf(machine: Machine, purpose: RandomPurpose): Random {
    const lifeSeed = childSeed(childSeed(this.#options.seed, machine.id), machine.lives);
    return createRandom(childSeed(lifeSeed, purpose));
  }

  #machine(id: string): Machine {
    const machine = this.#machines.get(id);
    if (machine === undefined) throw new Error(`no machine ${id} in this simulation`);
    return machine;
  }
}
