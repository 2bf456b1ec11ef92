// removenode (topology/remove-node.ts) against a fake view of a four-member ring: a removal whose
// member stays dead streams the ranges that lost it and marks it removed; a member that restarts
// during its removal (a new generation, so every view counts it normal again) fails the removal
// with member_live and is never marked removed, whether it restarts while the removal waits for
// the views to agree or while its ranges stream (simulation seed 3597543889: the removal went on,
// found nothing to stream, and dropped the live member from the ring).

import { describe, expect, it } from "vitest";
import type { MembershipEntry, TopologyEngine } from "../../../src/cluster/engine.js";
import type { Clock } from "../../../src/core/clock.js";
import { GrapevineError } from "../../../src/core/errors.js";
import { createRandom } from "../../../src/core/random.js";
import { createLogger } from "../../../src/node/logger.js";
import { TokenMap } from "../../../src/ring/token-map.js";
import { removeNode } from "../../../src/topology/remove-node.js";
import { TOPOLOGY_DEFAULTS, type TopologyContext } from "../../../src/topology/ring-change.js";
import { StreamManager } from "../../../src/topology/stream.js";

const RF = 2;
const TOKENS: Record<string, bigint> = { n1: 100n, n2: 200n, n3: 300n, n4: 400n };
const OLD_GENERATION = 1_000;

/** Time moves to each scheduled task, which runs on the next turn of the event loop. */
class SteppingClock implements Clock {
  now = 0;
  nowMs(): number {
    return this.now;
  }
  schedule(delayMs: number, task: () => void): () => void {
    const timer = setImmediate(() => {
      this.now += delayMs;
      task();
    });
    return () => clearImmediate(timer);
  }
}

/** The view removeNode reads: n2 is dead, and being removed once announced, until it restarts. */
class FakeView {
  generation = OLD_GENERATION;
  readonly announced: string[] = [];

  restart(): void {
    this.generation = OLD_GENERATION + 1;
  }

  private covered(): boolean {
    return this.announced.length > 0 && this.generation === OLD_GENERATION;
  }

  membership(): MembershipEntry[] {
    return Object.keys(TOKENS).map((id) => ({
      id,
      generation: id === "n2" ? this.generation : OLD_GENERATION,
      status: id === "n2" && this.covered() ? "leaving" : "normal",
      live: id !== "n2" || this.generation !== OLD_GENERATION,
    }));
  }

  ring(): TokenMap {
    return ringOf(Object.keys(TOKENS));
  }

  futureRing(): TokenMap {
    return ringOf(Object.keys(TOKENS).filter((id) => id !== "n2" || !this.covered()));
  }

  engine(): TopologyEngine {
    const engine: Partial<TopologyEngine> = {
      membership: () => this.membership(),
      isLive: (id) => this.membership().find((member) => member.id === id)?.live === true,
      isRemoved: () => false,
      ringChanges: () => [],
      ring: () => this.ring(),
      futureRing: () => this.futureRing(),
      announceRemoval: (id, phase) => {
        this.announced.push(`${id} ${phase} at ${this.generation}`);
      },
    };
    return engine as TopologyEngine;
  }
}

function ringOf(ids: readonly string[]): TokenMap {
  return TokenMap.build(new Map(ids.map((id) => [id, [TOKENS[id] as bigint]])));
}

interface Hooks {
  /** Called when another member is asked how it sees n2 (the agreement wait). */
  readonly onAsk?: () => void;
  /** Called when a page is fetched from a source (the streams). */
  readonly onFetch?: () => void;
}

function contextOf(view: FakeView, hooks: Hooks, streamed: string[]): TopologyContext {
  const clock = new SteppingClock();
  const streams = new StreamManager(
    {},
    {
      clock,
      endpoints: {
        isLive: () => true,
        fetch: (source, request) => {
          hooks.onFetch?.();
          streamed.push(`${request.range.end} from ${source}`);
          return Promise.resolve({ records: [], done: true });
        },
        push: () => Promise.resolve(),
      },
    },
  );
  return {
    self: "n1",
    replicationFactor: RF,
    vnodes: 1,
    gossipIntervalMs: 1_000,
    options: { ...TOPOLOGY_DEFAULTS },
    engine: view.engine(),
    streams,
    clock,
    random: createRandom(1),
    log: createLogger({ level: "silent" }),
    addressOf: (id) => `10.0.0.${id.slice(1)}:7000`,
    memberView: () => {
      hooks.onAsk?.();
      // A member that has not heard of the restart yet still sees the removal.
      return Promise.resolve({ state: "leaving", tokens: 1, live: false });
    },
    persist: () => Promise.resolve(),
    stopping: () => false,
  };
}

describe("removenode", () => {
  it("streams the ranges that lost the dead member, then marks it removed", async () => {
    const view = new FakeView();
    const streamed: string[] = [];
    await expect(removeNode(contextOf(view, {}, streamed), "n2")).resolves.toEqual({
      keys: 0,
      bytes: 0,
    });
    // n2's range (100, 200] and the one it held second, (400, 100], each gained a replica.
    expect(streamed.sort()).toEqual(["100 from n1", "200 from n3"]);
    expect(view.announced).toEqual(["n2 removing at 1000", "n2 removed at 1000"]);
  });

  for (const [when, hooks] of [
    ["while the views agree", (view: FakeView): Hooks => ({ onAsk: () => view.restart() })],
    ["while its ranges stream", (view: FakeView): Hooks => ({ onFetch: () => view.restart() })],
  ] as const) {
    it(`fails with member_live when the member restarts ${when}, never marking it removed`, async () => {
      const view = new FakeView();
      const removal = removeNode(contextOf(view, hooks(view), []), "n2");
      await expect(removal).rejects.toThrow(GrapevineError);
      await expect(removal).rejects.toMatchObject({
        code: "member_live",
        message: expect.stringContaining("n2 restarted during its removal") as unknown,
      });
      expect(view.announced).toEqual(["n2 removing at 1000"]);
    });
  }
});
