// model.js — what the console knows, refreshed by polling the node it was loaded from: its view of
// the members every second, its ring every few seconds, its /metrics every two seconds (kept for
// the last minutes), and the repairs started from this page while they run. Every change is handed
// to one listener, which renders.

import { getJson, getText } from "./api.js";
import { byLabel, kvWindow, parsePrometheus, sum } from "./metrics.js";
import { rateAndEta } from "./progress.js";

const STATUS_POLL_MS = 1_000;
const RING_POLL_MS = 5_000;
const METRICS_POLL_MS = 2_000;
/** The charts' window: five minutes of two-second points. */
const HISTORY_POINTS = 150;

export class ConsoleModel {
  status = /** @type {any} */ (null);
  ring = /** @type {any} */ (null);
  lookup = /** @type {any} */ (null);
  error = "";
  /** @type {{ t: number, routes: Record<string, any> }[]} */
  history = [];
  hints = {
    pending: 0,
    bytes: 0,
    rate: 0,
    eta: /** @type {number | null} */ (null),
    count: new Map(),
    bytesBy: new Map(),
  };
  /** @type {Map<string, number>} member → seconds since its heartbeat last went up */
  heartbeatAge = new Map();
  /** @type {Map<string, { body: any, rate: number, eta: number | null, atMs: number }>} */
  repairs = new Map();
  /** @type {any[]} */
  streams = [];

  /** @type {Map<string, { heartbeat: number, generation: number, atMs: number }>} */
  #heartbeats = new Map();
  /** @type {Map<number, { progress: number, bytes: number, atMs: number }>} */
  #streamsBefore = new Map();
  /** @type {{ scrape: Map<string, any>, atMs: number } | null} */
  #scrape = null;
  #onChange;

  /** @param {() => void} onChange */
  constructor(onChange) {
    this.#onChange = onChange;
  }

  start() {
    const every = (/** @type {() => Promise<void>} */ poll, /** @type {number} */ ms) => {
      const run = () => poll().finally(() => setTimeout(run, ms));
      void run();
    };
    every(() => this.#pollStatus(), STATUS_POLL_MS);
    every(() => this.#pollRing(), RING_POLL_MS);
    every(() => this.#pollMetrics(), METRICS_POLL_MS);
  }

  /** @param {string} key */
  async lookUp(key) {
    this.lookup =
      key === "" ? null : await getJson(`/cluster/replicas?key=${encodeURIComponent(key)}`);
    this.#onChange();
  }

  /** @param {string} id */
  watchRepair(id) {
    this.repairs.set(id, { body: null, rate: 0, eta: null, atMs: Date.now() });
    void this.#pollRepair(id);
  }

  async #pollStatus() {
    try {
      const status = await getJson("/cluster/status");
      const nowMs = Date.now();
      this.#trackHeartbeats(status.members, nowMs);
      this.#trackStreams(status.streams ?? [], nowMs);
      this.status = status;
      this.error = "";
    } catch (error) {
      this.error = `the node does not answer: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.#onChange();
  }

  async #pollRing() {
    try {
      this.ring = await getJson("/cluster/ring");
      if (this.lookup !== null) await this.lookUp(this.lookup.key);
    } catch {
      // The status poll reports an unreachable node.
    }
    this.#onChange();
  }

  async #pollMetrics() {
    try {
      const scrape = parsePrometheus(await getText("/metrics"));
      const atMs = Date.now();
      const before = this.#scrape;
      this.#scrape = { scrape, atMs };
      if (before !== null) this.#addWindow(before, { scrape, atMs });
    } catch {
      // As above.
    }
    this.#onChange();
  }

  /** @param {{ scrape: Map<string, any>, atMs: number }} before @param {{ scrape: Map<string, any>, atMs: number }} after */
  #addWindow(before, after) {
    const seconds = (after.atMs - before.atMs) / 1000;
    this.history = [
      ...this.history,
      { t: after.atMs / 1000, routes: kvWindow(before.scrape, after.scrape, seconds) },
    ].slice(-HISTORY_POINTS);
    const pending = sum(after.scrape, "hints_pending");
    const replayed = rateAndEta(
      sum(before.scrape, "hints_replayed_total"),
      sum(after.scrape, "hints_replayed_total"),
      seconds,
      pending,
    );
    this.hints = {
      pending,
      bytes: sum(after.scrape, "hints_pending_bytes"),
      rate: replayed.rate,
      eta: replayed.eta,
      count: byLabel(after.scrape, "hints_pending", "peer"),
      bytesBy: byLabel(after.scrape, "hints_pending_bytes", "peer"),
    };
  }

  /** @param {string} id */
  async #pollRepair(id) {
    const job = this.repairs.get(id);
    if (job === undefined) return;
    try {
      const body = await getJson(`/admin/repair/${encodeURIComponent(id)}`);
      const nowMs = Date.now();
      const compared = job.body?.progress.rangesCompared ?? 0;
      const left = body.progress.ranges - body.progress.rangesCompared;
      const { rate, eta } = rateAndEta(
        compared,
        body.progress.rangesCompared,
        (nowMs - job.atMs) / 1000,
        left,
      );
      this.repairs.set(id, { body, rate, eta, atMs: nowMs });
      this.#onChange();
      if (body.state !== "running") return;
    } catch {
      // Retried below.
    }
    setTimeout(() => void this.#pollRepair(id), STATUS_POLL_MS);
  }

  /** @param {any[]} members @param {number} nowMs */
  #trackHeartbeats(members, nowMs) {
    for (const member of members) {
      const seen = this.#heartbeats.get(member.id);
      if (
        seen === undefined ||
        member.generation !== seen.generation ||
        member.heartbeat > seen.heartbeat
      )
        this.#heartbeats.set(member.id, {
          heartbeat: member.heartbeat,
          generation: member.generation,
          atMs: nowMs,
        });
      this.heartbeatAge.set(
        member.id,
        (nowMs - (this.#heartbeats.get(member.id)?.atMs ?? nowMs)) / 1000,
      );
    }
  }

  /** @param {any[]} streams @param {number} nowMs */
  #trackStreams(streams, nowMs) {
    this.streams = streams.map((stream) => {
      const before = this.#streamsBefore.get(stream.id);
      const seconds = before === undefined ? 0 : (nowMs - before.atMs) / 1000;
      const progress = rateAndEta(
        before?.progress ?? stream.progress,
        stream.progress,
        seconds,
        1 - stream.progress,
      );
      const bytes = rateAndEta(before?.bytes ?? stream.bytes, stream.bytes, seconds, 0);
      return { ...stream, eta: progress.eta, bytesRate: bytes.rate };
    });
    this.#streamsBefore = new Map(
      streams.map((s) => [s.id, { progress: s.progress, bytes: s.bytes, atMs: nowMs }]),
    );
  }
}
