// topology/bootstrap.ts — a new node joins a running cluster: it learns the ring, waits its turn,
// chooses balanced tokens, announces them in state joining, streams every range it will replicate
// from a current replica of it, and turns normal (SPEC §4, issue 5).
//
// Theory of operation (Cassandra's bootstrap, with its waits replaced by checks).
// 1. Discovery. The node gossips in state joining without tokens until a seed answers, then listens
//    `settleGossipRounds` rounds so the ring's state reaches it. A node none of whose seeds answers
//    gives up after discoveryTimeoutMs, unless it is a seed itself: then it may be the first.
// 2. Turn. One ring change at a time: while another member is joining, leaving or being removed, or
//    a live member with a smaller id is also waiting to join, the node waits (turnWaitMs at most,
//    then refuses with a message naming the change in progress). When the ring is still empty (no
//    normal member anywhere), the waiting member with the smallest id forms the cluster: it turns
//    normal at once with evenly spaced tokens, and the others then join it one by one.
// 3. Tokens. balancedTokens against the current ring (ring/tokens.ts), persisted in ring.json as
//    joining before they are announced, so a crash resumes with the same tokens.
// 4. Agreement. Every live member must report the node as joining with its tokens before data
//    moves (ring-change.ts), so every coordinator already sends it the writes of its future ranges.
//    If two nodes announced at once, the one with the larger id withdraws its tokens and waits
//    again.
// 5. Streaming. The ranges the node gains (ring/placement.ts rangeMovements between the current
//    and future rings) are streamed from their current replicas (topology/stream.ts: bounded,
//    resumed from the last token on another replica when a source fails).
// 6. Normal. ring.json says normal, then the status is gossiped; the other nodes clean up the
//    ranges they no longer replicate once they see it (topology-service.ts).

import { GrapevineError } from "../core/errors.js";
import type { NodeId } from "../core/ids.js";
import { rangeMovements } from "../ring/placement.js";
import type { Token } from "../ring/partitioner.js";
import { balancedTokens, evenlySpacedTokens } from "../ring/tokens.js";
import type { RingState } from "./ring-state.js";
import {
  awaitAgreement,
  describeChange,
  sleep,
  waitUntil,
  type TopologyContext,
} from "./ring-change.js";
import type { StreamTask } from "./stream.js";

/** How a node starts, decided from its data dir before the engine exists. */
export type StartPlan =
  | { readonly kind: "normal"; readonly tokens: readonly Token[]; readonly persist: boolean }
  | { readonly kind: "bootstrap"; readonly resumeTokens: readonly Token[] | null };

export interface StartInput {
  readonly ringState: RingState | null;
  /** The identity was created by this start: an empty data dir. */
  readonly identityCreated: boolean;
  readonly identityTokens: readonly Token[];
  /** Seeds other than this node's own address. */
  readonly otherSeeds: number;
}

/**
 * Normal at once (a restart, or a node without seeds), or bootstrap. A left node must not start.
 */
export function planStart(input: StartInput): StartPlan {
  const state = input.ringState;
  if (state?.status === "left") {
    throw new GrapevineError(
      "bad_request",
      "this node was decommissioned; start it with an empty --data-dir to join again",
    );
  }
  if (state?.status === "normal") return { kind: "normal", tokens: state.tokens, persist: false };
  if (state?.status === "joining")
    return { kind: "bootstrap", resumeTokens: state.tokens.length > 0 ? state.tokens : null };
  // A data dir from before ring.json: the node was normal with its identity's tokens.
  if (!input.identityCreated)
    return { kind: "normal", tokens: input.identityTokens, persist: true };
  if (input.otherSeeds === 0)
    return { kind: "normal", tokens: input.identityTokens, persist: true };
  return { kind: "bootstrap", resumeTokens: null };
}

export interface BootstrapOptions {
  /** This node is one of its own seeds: it may form a cluster when no other seed answers. */
  readonly isSeed: boolean;
  readonly resumeTokens: readonly Token[] | null;
  readonly onStreaming?: () => void;
}

export interface BootstrapOutcome {
  readonly tokens: readonly Token[];
  /** Formed a new cluster instead of joining one. */
  readonly formed: boolean;
  readonly keys: number;
  readonly bytes: number;
  readonly ms: number;
}

export async function bootstrap(
  context: TopologyContext,
  options: BootstrapOptions,
): Promise<BootstrapOutcome> {
  const { engine, self, log } = context;
  const startedMs = context.clock.nowMs();
  await persistJoining(context, options.resumeTokens ?? []);

  // 1. Discovery.
  await discover(context, options.isSeed);
  for (;;) {
    // 2. Turn.
    await waitForTurn(context);
    const ring = engine.ring();
    if (ring.size === 0) return formCluster(context, options.resumeTokens, startedMs);

    // 3. Tokens, and 4. agreement on them.
    const tokens =
      options.resumeTokens ??
      balancedTokens(ring, context.vnodes, context.replicationFactor, context.random, self);
    if (!(await announceJoin(context, tokens))) continue;

    // 5. Streaming.
    const tasks = streamTasksFor(context, self);
    options.onStreaming?.();
    log.info({ streams: tasks.length }, "joining: streaming ranges");
    const streamed = await context.streams.run(`bootstrap ${self}`, tasks);

    // 6. Normal.
    await context.persist({ status: "normal", tokens });
    engine.setStatus("normal");
    const ms = context.clock.nowMs() - startedMs;
    log.info({ keys: streamed.keys, bytes: streamed.bytes, ms }, "joined: normal");
    return { tokens, formed: false, keys: streamed.keys, bytes: streamed.bytes, ms };
  }
}

/** Hears of another member (a seed must not wait forever: it may form the cluster). */
async function discover(context: TopologyContext, isSeed: boolean): Promise<void> {
  const { engine, self } = context;
  const heard = await waitUntil(
    context,
    () => engine.membership().some((member) => member.id !== self),
    context.options.discoveryTimeoutMs,
  );
  if (!heard && !isSeed) {
    throw new GrapevineError(
      "bad_request",
      `no seed answered within ${context.options.discoveryTimeoutMs} ms; check --seeds`,
    );
  }
  if (heard) await sleep(context, context.options.settleGossipRounds * context.gossipIntervalMs);
}

/** Nobody is normal yet and it is this node's turn: it forms the cluster. */
async function formCluster(
  context: TopologyContext,
  resumeTokens: readonly Token[] | null,
  startedMs: number,
): Promise<BootstrapOutcome> {
  const { engine, log } = context;
  const tokens = resumeTokens ?? evenlySpacedTokens(context.random, context.vnodes);
  await context.persist({ status: "normal", tokens });
  engine.setTokens(tokens);
  engine.setStatus("normal");
  log.info({ tokens: tokens.length }, "no ring yet: formed a cluster");
  return { tokens, formed: true, keys: 0, bytes: 0, ms: context.clock.nowMs() - startedMs };
}

/**
 * Announces the tokens and waits for the cluster to agree on them; false when another node
 * announced at the same time and this one, with the smaller id, withdrew to try again.
 */
async function announceJoin(context: TopologyContext, tokens: readonly Token[]): Promise<boolean> {
  const { engine, self, log } = context;
  await persistJoining(context, tokens);
  engine.setTokens(tokens);
  log.info(
    { tokens: tokens.length, members: engine.ring().nodes().length },
    "joining: tokens announced",
  );
  await awaitAgreement(
    context,
    self,
    (view) => view?.state === "joining" && view.tokens === tokens.length,
    "joining",
  );
  const rival = engine.ringChanges().find((change) => change.id !== self);
  if (rival !== undefined && rival.id < self) {
    log.info(
      { rival: rival.id },
      "another node announced a join at the same time; withdrawing and waiting",
    );
    await persistJoining(context, []);
    engine.setTokens([]);
    return false;
  }
  if (rival !== undefined) {
    // The rival withdraws (it has the larger id); wait for it before streaming.
    await waitUntil(
      context,
      () => !engine.ringChanges().some((change) => change.id === rival.id),
      context.options.turnWaitMs,
    );
  }
  return true;
}

async function persistJoining(context: TopologyContext, tokens: readonly Token[]): Promise<void> {
  await context.persist({ status: "joining", tokens });
}

/**
 * The ranges `target` gains between the current and future rings, each from its current replicas.
 */
export function streamTasksFor(context: TopologyContext, target: NodeId): StreamTask[] {
  const { engine } = context;
  const movements = rangeMovements(engine.ring(), engine.futureRing(), context.replicationFactor);
  const tasks: StreamTask[] = [];
  for (const movement of movements) {
    if (!movement.targets.includes(target)) continue;
    tasks.push({
      range: { start: movement.start, end: movement.end },
      target,
      sources: movement.sources.filter((source) => source !== target),
    });
  }
  return tasks;
}

async function waitForTurn(context: TopologyContext): Promise<void> {
  const { engine, self, log } = context;
  let announced = "";
  const ready = await waitUntil(
    context,
    () => {
      const others = engine.ringChanges().filter((change) => change.id !== self);
      const ahead = engine
        .waitingToJoin()
        .filter((id) => id !== self && id < self && engine.isLive(id));
      const blocker =
        others[0] !== undefined
          ? describeChange(others[0])
          : ahead[0] !== undefined
            ? `${ahead[0]} is waiting to join`
            : "";
      if (blocker !== "" && blocker !== announced) {
        announced = blocker;
        log.info({ blocker }, "waiting for another ring change before joining");
      }
      return blocker === "";
    },
    context.options.turnWaitMs,
  );
  if (!ready) {
    throw new GrapevineError(
      "ring_change_in_progress",
      `cannot join: ${announced} (waited ${context.options.turnWaitMs} ms)`,
    );
  }
}
