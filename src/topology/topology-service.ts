// topology/topology-service.ts — the node's side of ring changes: runs this node's bootstrap at
// start, a decommission or a removenode on request (one at a time, refused with a message naming
// the change in progress), cleanup once a change completes, and the progress view.
//
// Cleanup by itself (issue 5): every tick the service looks at the ring changes its view holds.
// After it has seen one, and once none is left and the ring has not moved for cleanupDelayMs, it
// deletes the ranges this node no longer replicates (ring/placement.ts rangesNotReplicatedOn, then
// store.deleteRange). A change is complete only when the nodes that received data say so (the
// joiner turns normal after its streams, the leaver turns left after its streams, the remover marks
// the member removed after its streams), so nothing is deleted before the new owners have it.
// Cleanup never runs at start-up, nor while this node is not normal.

import { GrapevineError } from "../core/errors.js";
import type { Address, NodeId } from "../core/ids.js";
import type { TopologyEngine } from "../cluster/engine.js";
import { rangesNotReplicatedOn } from "../ring/placement.js";
import type { Token } from "../ring/partitioner.js";
import { decodeRecord, encodeRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import { bootstrap, type BootstrapOptions, type BootstrapOutcome } from "./bootstrap.js";
import { checkDecommission, decommission } from "./decommission.js";
import { checkRemoveNode, removeNode } from "./remove-node.js";
import { TopologyStoppedError, type TopologyContext } from "./ring-change.js";
import { takePage, type PageRequest } from "./stream-pages.js";
import { StreamManager, type StreamProgress } from "./stream.js";

/**
 * A decommissioned node answers a little longer before it exits, so that `grapevine decommission`
 * (which polls every second) sees the finished change with its totals instead of a node that just
 * vanished.
 */
export const DECOMMISSION_EXIT_LINGER_MS = 2_000;

/** The ring change this node runs or ran last, for /cluster/status `change`. */
export interface LocalChange {
  readonly kind: "bootstrap" | "decommission" | "removenode";
  readonly id: NodeId;
  state: "running" | "done" | "failed";
  error: string | null;
  readonly startedMs: number;
  finishedMs: number | null;
  keys: number;
  bytes: number;
}

export interface CleanupStats {
  runs: number;
  rangesDeleted: number;
  recordsDeleted: number;
}

/** The stream pages to and from other nodes (net/stream-client.ts implements it). */
export interface StreamTransport {
  fetchPage(
    address: Address,
    request: PageRequest,
  ): Promise<{ records: readonly (readonly [string, Uint8Array, Token])[]; done: boolean }>;
  pushPage(address: Address, records: readonly (readonly [string, Uint8Array])[]): Promise<unknown>;
}

export interface TopologyServiceDeps {
  readonly context: Omit<TopologyContext, "streams">;
  readonly store: Pick<Store, "scanRange" | "apply" | "deleteRange">;
  readonly client: StreamTransport;
  readonly streamOptions: ConstructorParameters<typeof StreamManager>[0];
  /** Ends the process: 0 after a decommission, 1 after a bootstrap that cannot finish. */
  readonly requestExit: (code: number, reason: string) => void;
}

export class TopologyService {
  readonly streams: StreamManager;
  readonly context: TopologyContext;
  readonly cleanup: CleanupStats = { runs: 0, rangesDeleted: 0, recordsDeleted: 0 };
  readonly #deps: TopologyServiceDeps;
  #change: LocalChange | null = null;
  #sawChange = false;
  #stableSinceMs: number | null = null;
  #stableFingerprint = "";
  #cleaning = false;
  #bootstrapOutcome: BootstrapOutcome | null = null;

  constructor(deps: TopologyServiceDeps) {
    this.#deps = deps;
    const { context, store, client } = deps;
    const self = context.self;
    this.streams = new StreamManager(deps.streamOptions, {
      clock: context.clock,
      log: context.log,
      endpoints: {
        isLive: (node) => context.engine.isLive(node) && !context.engine.isRemoved(node),
        fetch: async (source, request) => {
          if (source === self) {
            // The same page as the stream route would serve (bounded by records and bytes).
            return takePage(
              store.scanRange(request.range, {
                limit: request.recordsMax + 1,
                tombstones: true,
                afterKey: request.afterKey,
              }),
              (scanned) => encodeRecord(scanned.record),
              request,
            );
          }
          const page = await client.fetchPage(this.#address(source), request);
          return {
            records: page.records.map(([key, record, token]) => ({ key, record, token })),
            done: page.done,
          };
        },
        push: async (target, records) => {
          if (target === self) {
            await store.apply(
              records.map((streamed) => ({
                key: streamed.key,
                record: decodeRecord(streamed.record),
              })),
            );
            return;
          }
          await client.pushPage(
            this.#address(target),
            records.map((streamed) => [streamed.key, streamed.record] as const),
          );
        },
      },
    });
    this.context = { ...context, streams: this.streams };
  }

  /** Joins the cluster in the background; the node exits 1 if the join cannot finish. */
  startBootstrap(options: BootstrapOptions): void {
    const change = this.#begin("bootstrap", this.context.self);
    bootstrap(this.context, options).then(
      (outcome) => {
        this.#bootstrapOutcome = outcome;
        this.#finish(change, null, outcome);
      },
      (error: unknown) => {
        this.#finish(change, error, null);
        if (error instanceof TopologyStoppedError) return;
        this.context.log.error({ err: error }, "bootstrap failed");
        this.#deps.requestExit(
          1,
          `bootstrap failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      },
    );
  }

  /**
   * Starts a decommission (throws a GrapevineError with its code when refused); the node exits 0
   * when it is done.
   */
  startDecommission(): LocalChange {
    this.#refuseIfBusy();
    checkDecommission(this.context);
    const change = this.#begin("decommission", this.context.self);
    decommission(this.context).then(
      (outcome) => {
        this.#finish(change, null, outcome);
        this.context.clock.schedule(DECOMMISSION_EXIT_LINGER_MS, () =>
          this.#deps.requestExit(0, "decommissioned"),
        );
      },
      (error: unknown) => {
        this.#finish(change, error, null);
        if (error instanceof TopologyStoppedError) return;
        this.context.log.error(
          { err: error },
          "decommission failed; the node stays leaving until restarted",
        );
      },
    );
    return change;
  }

  /** Starts the removal of a dead member (throws a GrapevineError with its code when refused). */
  startRemoveNode(id: NodeId): LocalChange {
    this.#refuseIfBusy();
    checkRemoveNode(this.context, id);
    const change = this.#begin("removenode", id);
    removeNode(this.context, id).then(
      (outcome) => this.#finish(change, null, outcome),
      (error: unknown) => {
        this.#finish(change, error, null);
        if (error instanceof TopologyStoppedError) return;
        this.context.log.error({ err: error, member: id }, "removenode failed");
      },
    );
    return change;
  }

  change(): LocalChange | null {
    return this.#change;
  }

  bootstrapOutcome(): BootstrapOutcome | null {
    return this.#bootstrapOutcome;
  }

  progress(): StreamProgress[] {
    return this.streams.progress();
  }

  /** Called on the node's tick: cleanup once a ring change has completed and the ring is stable. */
  tick(nowMs: number): void {
    const engine: TopologyEngine = this.context.engine;
    if (engine.ringChanges().length > 0) {
      this.#sawChange = true;
      this.#stableSinceMs = null;
      return;
    }
    if (!this.#sawChange || this.#cleaning) return;
    const fingerprint = engine.ringFingerprint();
    if (this.#stableSinceMs === null || fingerprint !== this.#stableFingerprint) {
      this.#stableSinceMs = nowMs;
      this.#stableFingerprint = fingerprint;
      return;
    }
    if (nowMs - this.#stableSinceMs < this.context.options.cleanupDelayMs) return;
    const self = engine.membership().find((member) => member.id === this.context.self);
    if (self?.status !== "normal") return;
    this.#sawChange = false;
    this.#cleaning = true;
    // #runCleanup logs its own failures; the flag clears either way.
    void this.#runCleanup().finally(() => {
      this.#cleaning = false;
    });
  }

  async #runCleanup(): Promise<void> {
    const { engine, self, replicationFactor, log } = this.context;
    const ranges = rangesNotReplicatedOn(engine.ring(), self, replicationFactor);
    let records = 0;
    try {
      for (const range of ranges) {
        if (this.context.stopping()) return;
        records += await this.#deps.store.deleteRange(range);
      }
      this.cleanup.runs++;
      this.cleanup.rangesDeleted += ranges.length;
      this.cleanup.recordsDeleted += records;
      log.info(
        { ranges: ranges.length, records },
        "cleanup: deleted the ranges this node no longer replicates",
      );
    } catch (error) {
      if (!this.context.stopping())
        log.warn({ err: error }, "cleanup failed; it runs again after the next ring change");
    }
  }

  #refuseIfBusy(): void {
    const change = this.#change;
    if (change !== null && change.state === "running") {
      throw new GrapevineError(
        "ring_change_in_progress",
        `a ${change.kind} of ${change.id} is already running on this node`,
      );
    }
  }

  #begin(kind: LocalChange["kind"], id: NodeId): LocalChange {
    const change: LocalChange = {
      kind,
      id,
      state: "running",
      error: null,
      startedMs: this.context.clock.nowMs(),
      finishedMs: null,
      keys: 0,
      bytes: 0,
    };
    this.#change = change;
    return change;
  }

  #finish(
    change: LocalChange,
    error: unknown,
    outcome: { keys: number; bytes: number } | null,
  ): void {
    change.finishedMs = this.context.clock.nowMs();
    change.state = error === null ? "done" : "failed";
    change.error =
      error === null ? null : error instanceof Error ? error.message : JSON.stringify(error);
    if (outcome !== null) {
      change.keys = outcome.keys;
      change.bytes = outcome.bytes;
    }
  }

  #address(node: NodeId): Address {
    const address = this.context.addressOf(node);
    if (address === undefined)
      throw new GrapevineError("not_found", `no address known for ${node}`);
    return address;
  }
}
