// node/tick-loop.ts — the only periodic timer of a node, and the one place that turns the
// membership core's Outbound lists into network sends and its events into reactions (address book,
// known peers, log lines, hint replays, anti-entropy ranges). The core never waits on IO: a tick or
// a receive returns what to send, and sends are fire-and-forget datagrams.
//
// Ticks are due on a fixed grid (one every engine.tickIntervalMs, on the monotonic Clock port).
// After a stall (a GC pause, SIGSTOP) the node ticks once and goes back to the grid from now: a
// burst of catch-up ticks would send a burst of stale heartbeats, and the detector is the one that
// must notice the gap.

import type { Cancel, Clock } from "../core/clock.js";
import type { ClusterEngine, ClusterEvent, Outbound } from "../cluster/engine.js";
import type { PeerMessage } from "../cluster/peer-messages.js";
import type { RingSettle } from "../cluster/ring-settle.js";
import type { HintedHandoff } from "../replication/hinted-handoff.js";
import type { AntiEntropyService } from "../antientropy/anti-entropy-service.js";
import type { PeerClient } from "../net/peer-client.js";
import type { AddressBook } from "./address-book.js";
import type { ClockGuard } from "./clock-guard.js";
import { ClusterEventLog } from "./event-log.js";
import type { Housekeeping } from "./housekeeping.js";
import type { Logger } from "./logger.js";

export interface TickLoopDeps {
  readonly engine: ClusterEngine;
  readonly clock: Clock;
  readonly log: Logger;
  readonly peerClient: PeerClient;
  readonly clockGuard: ClockGuard;
  readonly addressBook: AddressBook;
  readonly ringSettle: RingSettle;
  /** When the engine was created: the origin of the ring-learned line's afterMs. */
  readonly startedMs: number;
  readonly saveKnownPeers: () => void;
  readonly handoff: Pick<HintedHandoff, "onMemberUp">;
  readonly antiEntropy: AntiEntropyService;
  readonly housekeeping: Housekeeping;
  readonly isStopping: () => boolean;
}

/** Events that change what the node saves of its peers; liveness is not saved. */
const SAVED_FACT_EVENTS: ReadonlySet<ClusterEvent["kind"]> = new Set([
  "member-joined",
  "member-restarted",
  "member-removed",
  "status-changed",
  "tokens-changed",
]);

export class TickLoop {
  readonly #interval: number;
  #nextDueMs = 0;
  #cancelTick: Cancel = () => undefined;
  readonly #events: ClusterEventLog;

  constructor(private readonly deps: TickLoopDeps) {
    this.#interval = deps.engine.tickIntervalMs;
    this.#events = new ClusterEventLog(
      deps.log,
      deps.engine,
      deps.clock,
      () => deps.ringSettle.settled,
    );
  }

  get intervalMs(): number {
    return this.#interval;
  }

  #debug(): boolean {
    return this.deps.log.isLevelEnabled("debug");
  }

  /** Hands the core's messages to the peer client. A bound function, for the peer routes' deps. */
  readonly send = (outbounds: readonly Outbound[]): void => {
    const { log, clockGuard, peerClient } = this.deps;
    for (const outbound of outbounds) {
      if (this.#debug()) {
        log.debug(
          { to: outbound.to, address: outbound.address, kind: outbound.message.kind },
          "peer message sent",
        );
      }
      // A heartbeat leaves with this node's wall time: t0 of the offset measurement
      // (time/clock-offset.ts).
      const message =
        outbound.message.kind === "heartbeat"
          ? { ...outbound.message, sentWallMs: clockGuard.wallMs() }
          : outbound.message;
      peerClient.send(outbound.address, message);
    }
  };

  /** Feeds a validated peer message to the core. A bound function, for the peer routes' deps. */
  readonly receive = (message: PeerMessage, nowMs: number): readonly Outbound[] => {
    const { engine, log } = this.deps;
    if (this.deps.isStopping()) return [];
    if (this.#debug()) log.debug({ kind: message.kind }, "peer message received");
    try {
      return engine.receive(message, nowMs);
    } catch (error) {
      // A validated message that still breaks the engine is a bug; keep serving and say so loudly.
      log.error({ err: error, kind: message.kind }, "engine failed on a peer message");
      return [];
    } finally {
      this.#drainEvents();
    }
  };

  /** The first tick goes out at once so seeds hear of us without waiting a round. */
  begin(): void {
    this.#nextDueMs = this.deps.clock.nowMs();
    this.#runTick();
  }

  cancel(): void {
    this.#cancelTick();
  }

  /**
   * A clean stop's announcement (ClusterEngine.announceShutdown), pushed to every live peer;
   * resolves with the number of peers told once each has answered or failed (the caller bounds the
   * wait).
   */
  async announceShutdown(): Promise<number> {
    const { engine, clock, peerClient } = this.deps;
    const outbounds = engine.announceShutdown?.(clock.nowMs()) ?? [];
    await Promise.all(
      outbounds.map((outbound) => peerClient.deliver(outbound.address, outbound.message)),
    );
    return outbounds.length;
  }

  #drainEvents(): void {
    const { engine, addressBook, saveKnownPeers, handoff, antiEntropy } = this.deps;
    const events = engine.takeEvents();
    if (events.length === 0) return;
    addressBook.refresh();
    // What peers.json keeps (topology/known-peers.ts): members, their generations, statuses and
    // tokens.
    if (events.some((event) => SAVED_FACT_EVENTS.has(event.kind))) saveKnownPeers();
    for (const event of events) {
      this.#events.record(event);
      if (event.kind === "member-up") handoff.onMemberUp(event.id);
      if (event.kind === "tokens-changed") antiEntropy.onTokensChanged();
    }
  }

  #tickOnce(): void {
    const { engine, clock, log } = this.deps;
    try {
      this.send(engine.tick(clock.nowMs()));
    } catch (error) {
      log.error({ err: error }, "engine tick failed");
    }
    this.#drainEvents();
  }

  readonly #runTick = (): void => {
    const { clock, log, housekeeping } = this.deps;
    if (this.deps.isStopping()) return;
    this.#tickOnce();
    const now = clock.nowMs();
    this.#observeRingSettle(now);
    try {
      housekeeping.run(now);
    } catch (error) {
      log.error({ err: error }, "housekeeping failed");
    }
    this.#nextDueMs += this.#interval;
    if (this.#nextDueMs <= now) this.#nextDueMs = now + this.#interval;
    this.#cancelTick = clock.schedule(this.#nextDueMs - now, this.#runTick);
  };

  #observeRingSettle(now: number): void {
    const { engine, ringSettle, log, startedMs, saveKnownPeers } = this.deps;
    if (
      ringSettle.settled ||
      !ringSettle.observe(
        now,
        engine.ringFingerprint(),
        engine.stats().messagesReceived,
        this.#memberLookup(),
      )
    )
      return;
    const missing = ringSettle.missingPeers;
    if (missing.length === 0)
      log.info({ afterMs: Math.round(now - startedMs) }, "ring learned: serving client requests");
    else
      log.warn(
        { afterMs: Math.round(now - startedMs), missing },
        "ring not fully learned in time: serving client requests anyway",
      );
    saveKnownPeers();
  }

  /**
   * One membership scan per tick, and only when a known peer is still missing (a big cluster's
   * restart).
   */
  #memberLookup(): (id: string) => boolean {
    let ids: Set<string> | null = null;
    return (id) =>
      (ids ??= new Set(this.deps.engine.membership().map((member) => member.id))).has(id);
  }
}
