import { describe, expect, it } from "vitest";
import { InvariantError } from "../../../src/core/assert.js";
import type { Outbound } from "../../../src/cluster/engine.js";
import {
  PeerMessageError,
  type HeartbeatMessage,
  type PeerMessage,
} from "../../../src/cluster/peer-messages.js";
import { encodePeerBody } from "../../../src/net/codec.js";
import { SimNetwork, type SimNetworkOptions } from "../../../src/sim/sim-network.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { seedMessage, simSeeds } from "../../support/sim-seed.js";

/** The tiniest engine: it only remembers what it was handed, and when. */
class Recorder {
  readonly received: { message: PeerMessage; atMs: number }[] = [];
  constructor(
    readonly id: string,
    readonly address: string,
  ) {}
  deliver(message: PeerMessage, atMs: number): void {
    this.received.push({ message, atMs });
  }
  sequences(): number[] {
    return this.received.map(({ message }) => (message as HeartbeatMessage).sequence);
  }
}

function heartbeat(from: string, sequence: number): HeartbeatMessage {
  return { kind: "heartbeat", from, generation: 1_704_067_200_000, incarnation: 0, sequence };
}

function to(recorder: Recorder, message: PeerMessage): Outbound {
  return { to: recorder.id, address: recorder.address, message };
}

function setup(options: Partial<SimNetworkOptions> = {}, names = ["a", "b", "c"]) {
  const clock = new VirtualClock({ startMs: 1_000_000 });
  const network = new SimNetwork(
    { seed: 1, delay: { kind: "uniform", minMs: 1, maxMs: 5 }, ...options },
    clock,
  );
  const nodes = names.map((name) => new Recorder(name, `sim-${name}:7000`));
  for (const node of nodes) network.attach(node);
  return { clock, network, nodes: nodes as [Recorder, Recorder, Recorder] };
}

describe("SimNetwork", () => {
  it("hands the receiver a decoded, validated copy after a delay within the model, and counts the bytes", () => {
    const { clock, network, nodes } = setup();
    const [a, b] = nodes;
    const message = heartbeat("a", 7);
    network.send("a", [to(b, message)]);
    expect(b.received).toHaveLength(0);
    clock.runFor(10);
    expect(b.received).toHaveLength(1);
    const got = b.received[0]!;
    expect(got.message).toEqual(message);
    expect(got.message).not.toBe(message);
    expect(got.atMs - 1_000_000).toBeGreaterThanOrEqual(1);
    expect(got.atMs - 1_000_000).toBeLessThanOrEqual(5);
    const bytes = encodePeerBody(message).length;
    expect(network.traffic("a")).toMatchObject({
      messagesSent: 1,
      bytesSent: bytes,
      messagesReceived: 0,
    });
    expect(network.traffic("a").sentByKind.get("heartbeat")).toEqual({ messages: 1, bytes });
    expect(network.traffic("b")).toMatchObject({
      messagesReceived: 1,
      bytesReceived: bytes,
      messagesSent: 0,
    });
    expect(network.stats()).toMatchObject({ sent: 1, bytesSent: bytes, delivered: 1, inFlight: 0 });
    expect(network.stats().sentByKind.get("heartbeat")).toEqual({ messages: 1, bytes });
    expect(a.received).toHaveLength(0);
  });

  it("keeps exponential delays between the base and the cap", () => {
    const { clock, network, nodes } = setup({
      delay: { kind: "exponential", baseMs: 2, jitterMeanMs: 3, maxMs: 12 },
    });
    const [, b] = nodes;
    for (let i = 0; i < 2_000; i++) network.send("a", [to(b, heartbeat("a", i))]);
    clock.runFor(20);
    const delays = b.received.map(({ atMs }) => atMs - 1_000_000);
    expect(delays).toHaveLength(2_000);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...delays)).toBeLessThanOrEqual(12);
    // The mean of base + Exp(3) cut at 12 is about 4.9; a broken sampler is far from it.
    const mean = delays.reduce((sum, d) => sum + d, 0) / delays.length;
    expect(mean).toBeGreaterThan(4.5);
    expect(mean).toBeLessThan(5.3);
  });

  for (const seed of simSeeds([11, 12, 13])) {
    it(`loses about the configured fraction of messages (seed ${seed})`, () => {
      const { clock, network, nodes } = setup({ seed, lossProbability: 0.1 });
      const [, b] = nodes;
      const count = 20_000;
      for (let i = 0; i < count; i++) network.send("a", [to(b, heartbeat("a", i))]);
      clock.runFor(10);
      // Three standard deviations of a binomial(20,000, 0.1) fraction is 0.0064.
      const lostFraction = network.stats().lost.loss / count;
      expect(Math.abs(lostFraction - 0.1), seedMessage(seed, `lost ${lostFraction}`)).toBeLessThan(
        0.0064,
      );
      expect(b.received.length + network.stats().lost.loss, seedMessage(seed)).toBe(count);
    });
  }

  it("loses nothing at loss 0 and everything at loss 1, switchable at run time", () => {
    const { clock, network, nodes } = setup();
    const [, b] = nodes;
    for (let i = 0; i < 100; i++) network.send("a", [to(b, heartbeat("a", i))]);
    network.setLoss(1);
    for (let i = 100; i < 200; i++) network.send("a", [to(b, heartbeat("a", i))]);
    clock.runFor(10);
    expect(b.sequences().sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(b.received).toHaveLength(100);
    expect(network.stats().lost.loss).toBe(100);
  });

  it("replays the same fates and delays for the same seed, and one sender's draws ignore another's traffic", () => {
    const run = (withNoise: boolean): number[] => {
      const { clock, network, nodes } = setup({ seed: 99, lossProbability: 0.3 });
      const [, b, c] = nodes;
      for (let i = 0; i < 300; i++) {
        network.send("a", [to(b, heartbeat("a", i))]);
        if (withNoise) network.send("c", [to(b, heartbeat("c", i)), to(c, heartbeat("c", i))]);
      }
      clock.runFor(10);
      return b.received
        .filter(({ message }) => (message as HeartbeatMessage).from === "a")
        .map(({ atMs, message }) => atMs * 1_000 + (message as HeartbeatMessage).sequence);
    };
    const quiet = run(false);
    expect(run(false)).toEqual(quiet);
    expect(run(true)).toEqual(quiet);
  });

  it("drops messages across a partition both ways, delivers within a group, and delivers again after heal", () => {
    const { clock, network, nodes } = setup();
    const [a, b, c] = nodes;
    network.partition([["a", "b"], ["c"]]);
    network.send("a", [to(b, heartbeat("a", 1)), to(c, heartbeat("a", 2))]);
    network.send("c", [to(a, heartbeat("c", 3))]);
    clock.runFor(10);
    expect(b.sequences()).toEqual([1]);
    expect(c.received).toHaveLength(0);
    expect(a.received).toHaveLength(0);
    expect(network.stats().lost.cut).toBe(2);
    network.heal();
    network.send("c", [to(a, heartbeat("c", 4))]);
    clock.runFor(10);
    expect(a.sequences()).toEqual([4]);
  });

  it("puts nodes named in no partition group together in one more group", () => {
    const { clock, network, nodes } = setup({}, ["a", "b", "c", "d"]);
    const d = new Recorder("d", "sim-d:7000");
    network.attach(d);
    const [a, , c] = nodes;
    network.partition([["a", "b"]]);
    network.send("c", [to(d, heartbeat("c", 1)), to(a, heartbeat("c", 2))]);
    network.send("a", [to(c, heartbeat("a", 3))]);
    clock.runFor(10);
    expect(d.sequences()).toEqual([1]);
    expect(a.received).toHaveLength(0);
    expect(c.received).toHaveLength(0);
  });

  it("loses a message in flight when a partition starts before it arrives", () => {
    const { clock, network, nodes } = setup({ delay: { kind: "uniform", minMs: 5, maxMs: 5 } });
    const [, b] = nodes;
    network.send("a", [to(b, heartbeat("a", 1))]);
    clock.runFor(2);
    network.partition([["a"], ["b"]]);
    clock.runFor(10);
    expect(b.received).toHaveLength(0);
    expect(network.stats().lost.cut).toBe(1);
  });

  it("cuts a link in one direction only", () => {
    const { clock, network, nodes } = setup();
    const [a, b] = nodes;
    network.cutLink("a", "b");
    network.send("a", [to(b, heartbeat("a", 1))]);
    network.send("b", [to(a, heartbeat("b", 2))]);
    clock.runFor(10);
    expect(b.received).toHaveLength(0);
    expect(a.sequences()).toEqual([2]);
    network.restoreLink("a", "b");
    network.send("a", [to(b, heartbeat("a", 3))]);
    clock.runFor(10);
    expect(b.sequences()).toEqual([3]);
  });

  it("loses messages to a crashed node and to an address nobody listens on", () => {
    const { clock, network, nodes } = setup();
    const [, b] = nodes;
    network.setState("b", "crashed");
    network.send("a", [
      to(b, heartbeat("a", 1)),
      { to: null, address: "sim-nobody:7000", message: heartbeat("a", 2) },
    ]);
    clock.runFor(10);
    expect(b.received).toHaveLength(0);
    expect(network.stats().lost).toMatchObject({ down: 1, unroutable: 1 });
  });

  it("loses a message sent to an earlier life of a node that restarted while it was in flight", () => {
    const { clock, network, nodes } = setup({ delay: { kind: "uniform", minMs: 5, maxMs: 5 } });
    const [, b] = nodes;
    network.send("a", [to(b, heartbeat("a", 1))]);
    clock.runFor(1);
    network.setState("b", "crashed");
    const reborn = new Recorder("b", b.address);
    network.attach(reborn);
    network.send("a", [to(reborn, heartbeat("a", 2))]);
    clock.runFor(10);
    expect(b.received).toHaveLength(0);
    expect(reborn.sequences()).toEqual([2]);
    expect(network.stats().lost.down).toBe(1);
  });

  it("holds messages for a paused node and delivers them in order when it resumes within the hold limit", () => {
    const { clock, network, nodes } = setup({ pausedHoldMsMax: 2_000 });
    const [, b] = nodes;
    network.setState("b", "paused");
    for (let i = 0; i < 5; i++) {
      network.send("a", [to(b, heartbeat("a", i))]);
      clock.runFor(100);
    }
    expect(b.received).toHaveLength(0);
    expect(network.stats().inFlight).toBe(5);
    clock.runFor(1_000);
    network.setState("b", "up");
    clock.runFor(0);
    expect(b.sequences()).toEqual([0, 1, 2, 3, 4]);
    expect(b.received.every(({ atMs }) => atMs === clock.nowMs())).toBe(true);
    expect(network.stats().inFlight).toBe(0);
  });

  it("loses held messages older than the hold limit when the paused node resumes", () => {
    const { clock, network, nodes } = setup({ pausedHoldMsMax: 2_000 });
    const [, b] = nodes;
    network.setState("b", "paused");
    network.send("a", [to(b, heartbeat("a", 1))]);
    clock.runFor(1_500);
    network.send("a", [to(b, heartbeat("a", 2))]);
    clock.runFor(1_000);
    network.setState("b", "up");
    clock.runFor(0);
    expect(b.sequences()).toEqual([2]);
    expect(network.stats().lost.expired).toBe(1);
  });

  it("holds at most heldPerNodeMax messages for a paused node and loses newer ones", () => {
    const { clock, network, nodes } = setup({
      heldPerNodeMax: 3,
      delay: { kind: "uniform", minMs: 2, maxMs: 2 },
    });
    const [, b] = nodes;
    network.setState("b", "paused");
    for (let i = 0; i < 5; i++) network.send("a", [to(b, heartbeat("a", i))]);
    clock.runFor(10);
    network.setState("b", "up");
    clock.runFor(0);
    expect(b.sequences()).toEqual([0, 1, 2]);
    expect(network.stats().lost.overflow).toBe(2);
  });

  it("loses what a paused node held when it crashes", () => {
    const { clock, network, nodes } = setup();
    const [, b] = nodes;
    network.setState("b", "paused");
    network.send("a", [to(b, heartbeat("a", 1))]);
    clock.runFor(10);
    network.setState("b", "crashed");
    network.attach(new Recorder("b", b.address));
    clock.runFor(10);
    expect(b.received).toHaveLength(0);
    expect(network.stats()).toMatchObject({
      inFlight: 0,
      lost: expect.objectContaining({ down: 1 }),
    });
  });

  it("fails the run on a message the peer route would refuse, or counts it when asked to", () => {
    const malformed = { ...heartbeat("a", 1), generation: -5 };
    const strict = setup();
    strict.network.send("a", [to(strict.nodes[1], malformed)]);
    expect(() => strict.clock.runFor(10)).toThrow(PeerMessageError);

    const lenient = setup({ refusedPolicy: "count" });
    lenient.network.send("a", [to(lenient.nodes[1], malformed)]);
    lenient.clock.runFor(10);
    expect(lenient.nodes[1].received).toHaveLength(0);
    expect(lenient.network.stats().lost.refused).toBe(1);
    expect(lenient.network.stats().firstRefusal).toMatch(/generation/);
  });

  it("refuses to let a paused or crashed node send", () => {
    const { network, nodes } = setup();
    network.setState("a", "paused");
    expect(() => network.send("a", [to(nodes[1], heartbeat("a", 1))])).toThrow(InvariantError);
    network.setState("a", "crashed");
    expect(() => network.send("a", [to(nodes[1], heartbeat("a", 1))])).toThrow(InvariantError);
  });
});
