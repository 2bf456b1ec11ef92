// antientropy/repair-session.ts — one repair session: this node and one other replica, over a set
// of ranges both replicate.
//
// Theory of operation. A session is the initiator's side of the exchange of tree-diff.ts, driven
// over a RepairTransport (net/repair-client.ts in a node). It works through its ranges in chunks:
//
//   1. roots: one round trip carries the roots of a whole chunk of ranges (REPAIR_LIMITS), so every
//      in-sync range costs its share of that one question and answer and nothing more;
//   2. descent: the differing ranges descend together, levelsPerRound levels per round trip, each
//      round one request for all of them, until every differing node is a leaf or holds few
//      records;
//   3. entries: the keys, timestamps and hash prefixes of the leaves reached, from both sides. A
//      leaf that holds many records (a segment holds ~15 at 1M keys) is first cut into 2^bits
//      buckets by the next token bits (range-trees.ts), whose digests are compared like one more
//      tree level, and only differing buckets are listed. A span the peer cannot list whole (more
//      than entriesPerAskMax records) is asked alone, then split, and a single leaf that still
//      cannot be listed is skipped and counted (leavesSkipped), never guessed at;
//   4. exchange: diffEntries decides per key; records the peer lacks or holds older are pushed, the
//      ones this node lacks or holds older are pulled, in bounded batches. Both sides write what
//      they receive through store.apply(), last write wins, never a blind overwrite: a record that
//      changed meanwhile is not rolled back, and tombstones move like values, so deletes stay
//      deletes.
//
// A dry run stops after step 3 and reports what would move. Every round trip's bytes are counted
// and handed to `pace`, which the caller uses to hold a bytes-per-second budget (the background
// service) and to report progress. The session holds no timers and reads no clock itself.

import type { NodeId } from "../core/ids.js";
import type { KeyedRecord } from "../storage/record.js";
import type { Store } from "../storage/store.js";
import type { RangeBounds, RangeHashTree, TreeNode } from "./hash-tree.js";
import {
  LEAF_BUCKET_BITS_MAX,
  leafBucketHashesMany,
  listEntriesMany,
  TreeCache,
} from "./range-trees.js";
import {
  classify,
  compareRound,
  diffEntries,
  hashesMatch,
  NODE_HASH_BYTES,
  NODE_HASH_WINDOWS,
  roundQuestions,
  TREE_DIFF_DEFAULTS,
  WIRE_HASH_BYTES,
  type DescentOptions,
} from "./tree-diff.js";
import {
  REPAIR_LIMITS,
  type NodesAsk,
  type RepairTransport,
  type Traffic,
} from "./repair-transport.js";
import { emptySummary, type SessionSummary } from "./session-summary.js";
import {
  chunk,
  mergeSpans,
  nextListBatch,
  type CrowdedLeaf,
  type RangeState,
  type SpanAsk,
} from "./span-asks.js";

export { REPAIR_LIMITS } from "./repair-transport.js";
export type {
  BucketsAsk,
  EntriesAsk,
  ExchangeResult,
  NodesAsk,
  RepairTransport,
  Traffic,
} from "./repair-transport.js";
export { addSummary, emptySummary, type SessionSummary } from "./session-summary.js";

export interface SessionOptions {
  /**
   * Names the session to the peer (which remembers its ranges); unique among this node's sessions.
   */
  readonly id: string;
  readonly peer: NodeId;
  readonly ranges: readonly RangeBounds[];
  readonly dryRun: boolean;
  /**
   * Which node hash window the session compares (0 .. NODE_HASH_WINDOWS - 1); vary it between
   * sessions.
   */
  readonly window?: number;
  readonly levelsPerRound?: number;
  readonly entryKeysMax?: number;
}

export interface SessionDeps {
  readonly store: Pick<Store, "segments" | "scanHashed" | "get" | "apply">;
  readonly transport: RepairTransport;
  /**
   * Trees shared between sessions (one per peer over the same ranges); a private one when absent.
   */
  readonly trees?: TreeCache;
  /**
   * Called after every round trip with its bytes; the session waits for it, so the caller can hold
   * a byte budget. Also reports progress (the summary so far).
   */
  pace(bytes: number, summary: Readonly<SessionSummary>): Promise<void>;
  /** Called once per chunk of ranges compared, for progress. */
  onRangesCompared?(count: number): void;
}

/**
 * Records to push read from the store at once (one getMany), bounding what a group holds in memory.
 */
const PUSH_READS_PER_GROUP = 128;

/**
 * Resolves after the event loop's pending IO callbacks (setImmediate runs after the poll phase).
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class RepairSession {
  readonly summary: SessionSummary = emptySummary();
  private readonly descent: DescentOptions;
  private readonly window: number;

  constructor(
    private readonly options: SessionOptions,
    private readonly deps: SessionDeps,
  ) {
    this.window = options.window ?? 0;
    if (!(Number.isInteger(this.window) && this.window >= 0 && this.window < NODE_HASH_WINDOWS)) {
      throw new RangeError(`window must be 0 to ${NODE_HASH_WINDOWS - 1}`);
    }
    this.descent = {
      levelsPerRound: options.levelsPerRound ?? TREE_DIFF_DEFAULTS.levelsPerRound,
      entryKeysMax: options.entryKeysMax ?? TREE_DIFF_DEFAULTS.entryKeysMax,
      hashBytes: NODE_HASH_BYTES,
      hashOffset: this.window * NODE_HASH_BYTES,
    };
  }

  private async traffic<T>(call: Promise<Traffic<T>>): Promise<T> {
    const result = await call;
    this.summary.bytesSent += result.bytesSent;
    this.summary.bytesReceived += result.bytesReceived;
    this.summary.roundTrips += 1;
    await this.deps.pace(result.bytesSent + result.bytesReceived, this.summary);
    // Each reply is followed by a burst of diffing and scanning: let waiting client requests run
    // first.
    await yieldToEventLoop();
    return result.value;
  }

  async run(): Promise<SessionSummary> {
    for (const ranges of chunk(this.options.ranges, REPAIR_LIMITS.rangesPerRequestMax)) {
      await this.runChunk(ranges);
    }
    return this.summary;
  }

  private async runChunk(ranges: readonly RangeBounds[]): Promise<void> {
    const { peer } = this.options;
    const trees: RangeHashTree[] = [];
    const cache = this.deps.trees ?? new TreeCache();
    for (const range of ranges) trees.push(await cache.get(this.deps.store, range));
    const roots = await this.traffic(
      this.deps.transport.roots(peer, this.options.id, this.window, ranges),
    );
    this.summary.rangesCompared += ranges.length;
    this.deps.onRangesCompared?.(ranges.length);

    const states: RangeState[] = [];
    ranges.forEach((range, index) => {
      const tree = trees[index] as RangeHashTree;
      const root: TreeNode = { depth: 0, index: 0 };
      if (
        hashesMatch(
          tree.root(),
          roots[index] as Uint8Array,
          this.descent.hashBytes,
          this.descent.hashOffset,
        )
      )
        return;
      this.summary.rangesDiffering += 1;
      const { descend, exchange } = classify(tree, [root], this.descent);
      states.push({
        range,
        index,
        tree,
        frontier: descend,
        spans: exchange.map((node) => tree.leafSpan(node)),
      });
    });
    if (states.length === 0) return;

    await this.descend(states);
    const diffs = await this.listAndDiff(states);
    if (this.options.dryRun) {
      this.summary.keysSent += diffs.push.length;
      this.summary.keysReceived += diffs.pull.length;
      return;
    }
    await this.exchange(diffs.push, diffs.pull);
  }

  /** Rounds of descent until no range has a frontier left. */
  private async descend(states: RangeState[]): Promise<void> {
    const levels = this.descent.levelsPerRound;
    for (;;) {
      const pending = states.filter((state) => state.frontier.length > 0);
      if (pending.length === 0) return;
      // One request per round when it fits; split by the nodes named and by asks.
      const batches: { state: RangeState; nodes: TreeNode[] }[][] = [[]];
      let named = 0;
      for (const state of pending) {
        for (const nodes of chunk(state.frontier, REPAIR_LIMITS.nodesPerRequestMax)) {
          let batch = batches.at(-1) as { state: RangeState; nodes: TreeNode[] }[];
          if (
            batch.length >= REPAIR_LIMITS.asksPerRequestMax ||
            named + nodes.length > REPAIR_LIMITS.nodesPerRequestMax
          ) {
            batch = [];
            batches.push(batch);
            named = 0;
          }
          batch.push({ state, nodes });
          named += nodes.length;
        }
        state.frontier = [];
      }
      for (const batch of batches) {
        if (batch.length === 0) continue;
        const asks: NodesAsk[] = batch.map(({ state, nodes }) => ({
          range: state.index,
          nodes,
          levels,
        }));
        const replies = await this.traffic(
          this.deps.transport.nodes(this.options.peer, this.options.id, asks),
        );
        batch.forEach(({ state, nodes }, index) => {
          const asked = roundQuestions(state.tree, nodes, levels);
          const peerHashes = replies[index] as Uint8Array[];
          if (peerHashes.length !== asked.length)
            throw new Error(
              `peer ${this.options.peer} answered ${peerHashes.length} hashes for ${asked.length} nodes`,
            );
          const outcome = compareRound(state.tree, asked, peerHashes, this.descent);
          this.summary.nodesCompared += outcome.compared;
          state.frontier.push(...outcome.descend);
          for (const node of outcome.exchange) state.spans.push(state.tree.leafSpan(node));
        });
      }
    }
  }

  /** Lists both sides' records of every span reached and decides what moves. */
  private async listAndDiff(states: RangeState[]): Promise<{ push: string[]; pull: string[] }> {
    const { asks, crowded } = this.planAsks(states);
    await this.askBuckets(crowded, asks);
    return this.listAndDiffAsks(asks);
  }

  /**
   * The spans to list, and the leaves holding too many records to list whole (`crowded`), whose
   * buckets are compared first so only the differing ones are listed.
   */
  private planAsks(states: readonly RangeState[]): { asks: SpanAsk[]; crowded: CrowdedLeaf[] } {
    const asks: SpanAsk[] = [];
    const crowded: CrowdedLeaf[] = [];
    const keysMax = Math.max(1, this.descent.entryKeysMax);
    for (const state of states) {
      for (const span of mergeSpans(state.spans)) {
        if (state.tree.countInSpan(span.first, span.end) <= 2 * keysMax) {
          asks.push({ state, first: span.first, end: span.end, alone: false });
          continue;
        }
        // Leaves holding many records: list only the buckets of each that differ; the runs of
        // leaves between them stay one span each.
        let runFirst = span.first;
        for (let leaf = span.first; leaf < span.end; leaf++) {
          const count = state.tree.countInSpan(leaf, leaf + 1);
          if (count <= 2 * keysMax) continue;
          if (runFirst < leaf) asks.push({ state, first: runFirst, end: leaf, alone: false });
          runFirst = leaf + 1;
          crowded.push({
            state,
            leaf,
            bits: Math.min(
              LEAF_BUCKET_BITS_MAX,
              Math.max(1, Math.ceil(Math.log2(count / keysMax))),
            ),
          });
        }
        if (runFirst < span.end) asks.push({ state, first: runFirst, end: span.end, alone: false });
      }
    }
    return { asks, crowded };
  }

  /**
   * Compares the crowded leaves' bucket digests with the peer's; adds an ask per differing bucket.
   */
  private async askBuckets(crowded: readonly CrowdedLeaf[], asks: SpanAsk[]): Promise<void> {
    for (const batch of chunk(crowded, REPAIR_LIMITS.asksPerRequestMax)) {
      // This side's digests are read while the peer reads its own: one scan batch, one round trip.
      const [replies, ownDigests] = await Promise.all([
        this.traffic(
          this.deps.transport.buckets(
            this.options.peer,
            this.options.id,
            batch.map(({ state, leaf, bits }) => ({ range: state.index, leaf, bits })),
          ),
        ),
        leafBucketHashesMany(
          this.deps.store,
          batch.map(({ state, leaf, bits }) => ({ range: state.range, leaf, bits })),
          REPAIR_LIMITS.entriesPerAskMax,
        ),
      ]);
      for (let index = 0; index < batch.length; index++) {
        const { state, leaf, bits } = batch[index] as (typeof batch)[number];
        const theirs = replies[index];
        const ours = ownDigests[index];
        if (
          theirs === null ||
          theirs === undefined ||
          ours === null ||
          ours === undefined ||
          theirs.length !== ours.length
        ) {
          asks.push({ state, first: leaf, end: leaf + 1, alone: true });
          continue;
        }
        this.summary.nodesCompared += ours.length;
        ours.forEach((own, bucket) => {
          if (
            !hashesMatch(
              own,
              theirs[bucket] as Uint8Array,
              this.descent.hashBytes,
              this.descent.hashOffset,
            )
          ) {
            asks.push({ state, first: leaf, end: leaf + 1, alone: false, bits, bucket });
          }
        });
      }
    }
  }

  /**
   * Lists every ask on both sides, in batches, and diffs the lists; spans too large are retried
   * first.
   */
  private async listAndDiffAsks(planned: SpanAsk[]): Promise<{ push: string[]; pull: string[] }> {
    const push: string[] = [];
    const pull: string[] = [];
    let asks = planned;
    // A cursor, not shift(): a 10% divergence at 1M keys makes tens of thousands of asks.
    let next = 0;
    while (next < asks.length) {
      const batch = nextListBatch(asks, next);
      next += batch.length;
      const retry = await this.listBatch(batch, push, pull);
      // Retries go next (rare: only spans too large for one list).
      if (retry.length > 0) {
        asks = [...retry, ...asks.slice(next)];
        next = 0;
      }
    }
    return { push, pull };
  }

  /**
   * Lists one batch on both sides at once and adds the diffs to push and pull; returns the retries.
   */
  private async listBatch(
    batch: readonly SpanAsk[],
    push: string[],
    pull: string[],
  ): Promise<SpanAsk[]> {
    // Both sides list the batch at once: the peer in its reply, this side in one scan batch
    // meanwhile.
    const [lists, ownLists] = await Promise.all([
      this.traffic(
        this.deps.transport.entries(
          this.options.peer,
          this.options.id,
          batch.map(({ state, first, end, bits, bucket }) =>
            bits === undefined
              ? { range: state.index, first, end }
              : { range: state.index, first, end, bits, bucket },
          ),
        ),
      ),
      listEntriesMany(
        this.deps.store,
        batch.map(({ state, first, end, bits, bucket }) => ({
          range: state.range,
          first,
          end,
          bits,
          bucket,
        })),
        REPAIR_LIMITS.entriesPerAskMax,
      ),
    ]);
    const retry: SpanAsk[] = [];
    for (let index = 0; index < batch.length; index++) {
      const ask = batch[index] as (typeof batch)[number];
      const theirs = lists[index];
      const ours = ownLists[index] ?? null;
      if (theirs === null || theirs === undefined || ours === null) {
        // Too many records for one list: ask again alone, then split the span, and only a single
        // leaf that cannot be listed even alone is skipped (and counted).
        if (batch.length > 1 && theirs === null && ours !== null) {
          retry.push({ ...ask, alone: true });
        } else if (ask.end - ask.first > 1 && ask.bits === undefined) {
          const middle = ask.first + Math.floor((ask.end - ask.first) / 2);
          retry.push(
            { state: ask.state, first: ask.first, end: middle, alone: false },
            { state: ask.state, first: middle, end: ask.end, alone: false },
          );
        } else {
          this.summary.leavesSkipped += 1;
        }
        continue;
      }
      const diff = diffEntries(ours, theirs, WIRE_HASH_BYTES);
      push.push(...diff.push);
      pull.push(...diff.pull);
    }
    return retry;
  }

  /**
   * Pushes and pulls in bounded batches; what arrives goes through store.apply (last write wins).
   */
  private async exchange(pushKeys: string[], pullKeys: string[]): Promise<void> {
    let pushAt = 0;
    let pull = [...pullKeys];
    while (pushAt < pushKeys.length || pull.length > 0) {
      const push: KeyedRecord[] = [];
      let bytes = 0;
      // Read in small concurrent groups (the store merges them into one getMany); the bounds are
      // checked per record, and a group's unused tail is read again for the next exchange.
      while (pushAt < pushKeys.length && push.length < REPAIR_LIMITS.recordsPerExchangeMax) {
        if (push.length > 0 && bytes >= REPAIR_LIMITS.exchangeBytesTarget) break;
        const room = REPAIR_LIMITS.recordsPerExchangeMax - push.length;
        const keys = pushKeys.slice(pushAt, pushAt + Math.min(room, PUSH_READS_PER_GROUP));
        const stored = await Promise.all(keys.map((key) => this.deps.store.get(key)));
        for (let index = 0; index < keys.length; index++) {
          if (push.length > 0 && bytes >= REPAIR_LIMITS.exchangeBytesTarget) break;
          const key = keys[index] as string;
          const record = stored[index];
          pushAt += 1;
          // Gone since it was listed (deleteRange after a ring change): nothing to send.
          if (record === undefined) continue;
          push.push({ key, record });
          bytes += key.length + record.value.length;
        }
      }
      const asked = pull.slice(0, REPAIR_LIMITS.recordsPerExchangeMax);
      const result = await this.traffic(
        this.deps.transport.exchange(this.options.peer, push, asked),
      );
      this.summary.keysSent += push.length;
      if (result.records.length > 0) {
        await this.deps.store.apply(result.records);
        this.summary.keysReceived += result.records.length;
      }
      // The peer answers in order until its reply is full: the unanswered tail is asked again.
      const answered = asked.length - result.missing;
      if (answered <= 0 && asked.length > 0 && push.length === 0) {
        throw new Error(`peer ${this.options.peer} sent none of ${asked.length} pulled records`);
      }
      pull = pull.slice(Math.max(answered, 0));
    }
  }
}
