import { describe, expect, it } from "vitest";
import type { InternalReply, InternalRequest } from "../../../src/net/internal-routes.js";
import {
  PEER_HTTP_ERROR_BODY_BYTES_MAX,
  type PeerHttpReply,
  type PeerHttpRequest,
} from "../../../src/net/peer-http.js";
import { SimHttpNetwork, type SimHttpNetworkOptions } from "../../../src/sim/sim-http.js";
import { LifeClock } from "../../../src/sim/life-clock.js";
import { runVirtual } from "../../../src/sim/sim-loop.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";

/** Routes that record what they were given and answer with `answer` (an echo by default). */
function fakeRoutes(
  clock: VirtualClock,
  name: string,
  log: string[],
  answer: (request: InternalRequest) => InternalReply = (request) => ({
    statusCode: 200,
    contentType: "application/octet-stream",
    body: Buffer.concat([Buffer.from(`${name}:`), request.body]),
  }),
): { handle(request: InternalRequest): Promise<InternalReply>; seen: InternalRequest[] } {
  const seen: InternalRequest[] = [];
  return {
    seen,
    handle(request: InternalRequest): Promise<InternalReply> {
      seen.push(request);
      log.push(`${name} handles ${request.body.toString()} @${clock.nowMs()}`);
      return Promise.resolve(answer(request));
    },
  };
}

function post(body: string, timeoutMs = 1_000, replyBytesMax = 1_000): PeerHttpRequest {
  return {
    method: "POST",
    path: "/internal/v1/test",
    headers: { "content-type": "application/octet-stream" },
    body: Buffer.from(body),
    replyBytesMax,
    timeoutMs,
  };
}

type Outcome = { at: number; reply?: PeerHttpReply; error?: Error & { code?: string } };

/** Sends and records when and how the request settled. */
function track(clock: VirtualClock, promise: Promise<PeerHttpReply>): Outcome[] {
  const out: Outcome[] = [];
  promise.then(
    (reply) => out.push({ at: clock.nowMs(), reply }),
    (error: unknown) => out.push({ at: clock.nowMs(), error: error as Error }),
  );
  return out;
}

function setup(options: Partial<SimHttpNetworkOptions> = {}) {
  const clock = new VirtualClock();
  const network = new SimHttpNetwork({ clock, seed: 42, ...options });
  const log: string[] = [];
  const a = fakeRoutes(clock, "a", log);
  const b = fakeRoutes(clock, "b", log);
  network.listen("a:1", a);
  network.listen("b:1", b);
  return { clock, network, log, a, b, client: network.client("a:1") };
}

describe("SimHttpNetwork", () => {
  it("delivers a request and its reply after whole-ms delays in [min, max]", async () => {
    const { clock, network, client, b } = setup({ delay: { minMs: 3, maxMs: 7 } });
    const outcomes: Outcome[][] = [];
    for (let i = 0; i < 20; i++) outcomes.push(track(clock, client.request("b:1", post(`m${i}`))));
    await runVirtual(clock, 100);
    expect(b.seen).toHaveLength(20);
    for (const [i, out] of outcomes.entries()) {
      const [only] = out;
      expect(only?.reply?.statusCode).toBe(200);
      expect(only?.reply?.body?.toString()).toBe(`b:m${i}`);
      expect(Number.isInteger(only?.at)).toBe(true);
      expect(only?.at).toBeGreaterThanOrEqual(6);
      expect(only?.at).toBeLessThanOrEqual(14);
    }
    expect(new Set(outcomes.map((out) => out[0]?.at)).size).toBeGreaterThan(1);
    expect(network.counters()).toMatchObject({
      requests: 20,
      handled: 20,
      replies: 20,
      timedOut: 0,
    });
  });

  it("copies bodies: the receiver owns its request, the caller its reply", async () => {
    const clock = new VirtualClock();
    const network = new SimHttpNetwork({ clock, seed: 1 });
    const shared = Buffer.from("reply");
    const seen: InternalRequest[] = [];
    network.listen("b:1", {
      handle: (request) => {
        seen.push(request);
        return Promise.resolve({ statusCode: 200, contentType: "x", body: shared });
      },
    });
    const request = post("hello");
    const out = track(clock, network.client("a:1").request("b:1", request));
    request.body?.write("J");
    await runVirtual(clock, 50);
    expect(seen[0]?.body.toString()).toBe("hello");
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.path).toBe("/internal/v1/test");
    expect(seen[0]?.headers["content-type"]).toBe("application/octet-stream");
    shared.write("X");
    expect(out[0]?.reply?.body?.toString()).toBe("reply");
  });

  it("hands an empty body to the routes when the request has none", async () => {
    const { clock, client, b } = setup();
    const { body: _body, ...noBody } = post("");
    track(clock, client.request("b:1", { ...noBody, method: "GET" }));
    await runVirtual(clock, 50);
    expect(b.seen[0]?.body).toEqual(Buffer.alloc(0));
    expect(b.seen[0]?.method).toBe("GET");
  });

  it("on loss, rejects exactly at the caller's deadline", async () => {
    const { clock, network, client } = setup({ lossProbability: 1 });
    const out = track(clock, client.request("b:1", post("x", 777)));
    await runVirtual(clock, 5_000);
    expect(out).toHaveLength(1);
    expect(out[0]?.at).toBe(777);
    expect(out[0]?.error?.message).toMatch(/no reply within 777 ms/);
    expect(network.counters()).toMatchObject({ timedOut: 1, handled: 0 });
    expect(network.counters().lost.loss).toBe(1);
  });

  it("loses replies too: the request is handled but the caller times out", async () => {
    const { clock, network, client, b } = setup();
    network.setLoss(0.5);
    const outs = Array.from({ length: 40 }, (_, i) =>
      track(clock, client.request("b:1", post(`${i}`, 500))),
    );
    await runVirtual(clock, 1_000);
    const timedOut = outs.filter((out) => out[0]?.error !== undefined);
    expect(timedOut.length).toBeGreaterThan(0);
    for (const out of timedOut) expect(out[0]?.at).toBe(500);
    // Some requests got through and were handled while their reply was lost.
    expect(b.seen.length).toBeGreaterThan(outs.length - timedOut.length);
    expect(network.counters().timedOut).toBe(timedOut.length);
  });

  it("cancels the deadline once the reply arrives", async () => {
    const { clock, client } = setup();
    const out = track(clock, client.request("b:1", post("x", 1_000)));
    await runVirtual(clock, 2_000);
    expect(out).toHaveLength(1);
    expect(out[0]?.reply).toBeDefined();
    expect(clock.pending).toBe(0);
  });

  it("handles a duplicated request twice and uses the first reply", async () => {
    const { clock, network, client, b } = setup({ duplicateProbability: 1 });
    const out = track(clock, client.request("b:1", post("dup")));
    await runVirtual(clock, 100);
    expect(b.seen.map((r) => r.body.toString())).toEqual(["dup", "dup"]);
    expect(out).toHaveLength(1);
    expect(out[0]?.reply?.body?.toString()).toBe("b:dup");
    expect(network.counters()).toMatchObject({
      duplicated: 1,
      handled: 2,
      replies: 1,
      repliesUnused: 1,
    });
  });

  it("cuts one direction: a's requests never arrive, b's do but a's replies are lost", async () => {
    const { clock, network, log } = setup();
    network.cut("a:1", "b:1");
    const ab = track(clock, network.client("a:1").request("b:1", post("ab", 300)));
    const ba = track(clock, network.client("b:1").request("a:1", post("ba", 300)));
    await runVirtual(clock, 1_000);
    expect(ab[0]?.error?.message).toMatch(/no reply/);
    // b → a still carries b's request; only a's reply, which travels a → b, is lost.
    expect(ba[0]?.error?.message).toMatch(/no reply/);
    expect(log.some((line) => line.startsWith("b handles"))).toBe(false);
    expect(log.some((line) => line.startsWith("a handles ba"))).toBe(true);
    expect(network.counters().lost.cut).toBe(2);
    network.heal();
    const again = track(clock, network.client("a:1").request("b:1", post("ab2", 300)));
    await runVirtual(clock, 2_000);
    expect(again[0]?.reply?.body?.toString()).toBe("b:ab2");
  });

  it("loses a reply whose link is cut while the request is handled", async () => {
    const { clock, network, client, b } = setup({ delay: { minMs: 10, maxMs: 10 } });
    const out = track(clock, client.request("b:1", post("x", 100)));
    clock.schedule(15, () => network.cut("b:1", "a:1"));
    await runVirtual(clock, 1_000);
    expect(b.seen).toHaveLength(1);
    expect(out[0]?.at).toBe(100);
    expect(network.counters().lost.cut).toBe(1);
  });

  it("partitions: only addresses in the same group reach each other", async () => {
    const { clock, network, client } = setup();
    network.listen("c:1", fakeRoutes(clock, "c", []));
    network.partition([["a:1", "c:1"], ["b:1"]]);
    const toB = track(clock, client.request("b:1", post("x", 200)));
    const toC = track(clock, client.request("c:1", post("y", 200)));
    await runVirtual(clock, 1_000);
    expect(toB[0]?.error?.message).toMatch(/no reply/);
    expect(toC[0]?.reply?.body?.toString()).toBe("c:y");
  });

  it("holds requests to a paused node and delivers them at resume", async () => {
    const { clock, network, client, log } = setup();
    network.pause("b:1");
    const out = track(clock, client.request("b:1", post("held", 5_000)));
    await runVirtual(clock, 1_000);
    expect(log).toEqual([]);
    network.resume("b:1");
    await runVirtual(clock, 2_000);
    expect(log).toEqual(["b handles held @1000"]);
    expect(out[0]?.reply?.body?.toString()).toBe("b:held");
  });

  it("drops held requests older than pausedHoldMsMax at resume", async () => {
    const { clock, network, client, b } = setup({ pausedHoldMsMax: 500 });
    network.pause("b:1");
    track(clock, client.request("b:1", post("old", 5_000)));
    await runVirtual(clock, 1_000);
    network.resume("b:1");
    await runVirtual(clock, 2_000);
    expect(b.seen).toHaveLength(0);
    expect(network.counters().lost.expired).toBe(1);
  });

  it("holds replies to a paused sender until it resumes", async () => {
    const { clock, network, client } = setup({ delay: { minMs: 10, maxMs: 10 } });
    const out = track(clock, client.request("b:1", post("x", 5_000)));
    clock.schedule(15, () => network.pause("a:1"));
    await runVirtual(clock, 300);
    expect(out).toHaveLength(0);
    network.resume("a:1");
    await runVirtual(clock, 400);
    expect(out[0]?.at).toBe(300);
    expect(out[0]?.reply?.body?.toString()).toBe("b:x");
  });

  it("refuses a request to a crashed or unknown address after one delay", async () => {
    const { clock, network, client } = setup({ delay: { minMs: 4, maxMs: 4 } });
    network.crash("b:1");
    const crashed = track(clock, client.request("b:1", post("x")));
    const unknown = track(clock, client.request("nobody:1", post("y")));
    await runVirtual(clock, 100);
    for (const out of [crashed, unknown]) {
      expect(out[0]?.at).toBe(4);
      expect(out[0]?.error?.message).toBe("connection refused");
      expect(out[0]?.error?.code).toBe("ECONNREFUSED");
    }
    expect(network.counters().refused).toBe(2);
  });

  it("drops the old life's traffic when a crashed node listens again", async () => {
    const { clock, network, client, log } = setup({ delay: { minMs: 10, maxMs: 10 } });
    const out = track(clock, client.request("b:1", post("x", 500)));
    clock.schedule(5, () => {
      network.crash("b:1");
      network.listen("b:1", fakeRoutes(clock, "b2", log));
    });
    await runVirtual(clock, 1_000);
    expect(log).toEqual([]);
    expect(out[0]?.at).toBe(500);
    expect(network.counters().lost.down).toBe(1);
  });

  it("drops a reply computed by a life that crashed meanwhile", async () => {
    const clock = new VirtualClock();
    const network = new SimHttpNetwork({ clock, seed: 3 });
    let finish: (reply: InternalReply) => void = () => undefined;
    network.listen("b:1", { handle: () => new Promise((resolve) => (finish = resolve)) });
    const out = track(clock, network.client("a:1").request("b:1", post("x", 200)));
    await runVirtual(clock, 50);
    network.crash("b:1");
    finish({ statusCode: 200, contentType: "x", body: Buffer.from("late") });
    await runVirtual(clock, 1_000);
    expect(out[0]?.at).toBe(200);
    expect(network.counters().lost.down).toBe(1);
  });

  it("applies the port's reply bounds", async () => {
    const clock = new VirtualClock();
    const network = new SimHttpNetwork({ clock, seed: 5 });
    const big = Buffer.alloc(PEER_HTTP_ERROR_BODY_BYTES_MAX + 1);
    const answering = (statusCode: number) => ({
      handle: () => Promise.resolve({ statusCode, contentType: "x", body: big }),
    });
    network.listen("ok:1", answering(200));
    network.listen("err:1", answering(503));
    const client = network.client("a:1");
    const tooBig = track(clock, client.request("ok:1", post("x", 1_000, 100)));
    const errorReply = track(clock, client.request("err:1", post("x", 1_000, 100)));
    await runVirtual(clock, 100);
    expect(tooBig[0]?.error?.message).toMatch(/larger than 100 bytes/);
    expect(errorReply[0]?.reply).toEqual({ statusCode: 503, body: null });
  });

  it("rejects in-flight requests of a closed client only", async () => {
    const { clock, network } = setup();
    const closing = network.client("a:1");
    const other = network.client("a:1");
    const closed = track(clock, closing.request("b:1", post("x")));
    const kept = track(clock, other.request("b:1", post("y")));
    closing.forget("b:1");
    await closing.close();
    await runVirtual(clock, 100);
    expect(closed[0]?.error?.message).toMatch(/closed/);
    expect(kept[0]?.reply?.body?.toString()).toBe("b:y");
    await expect(closing.request("b:1", post("z"))).rejects.toThrow(/closed/);
  });

  it("keeps a client's deadline on the clock it is given (its life's)", async () => {
    const { clock, network } = setup({ lossProbability: 1 });
    const life = new LifeClock(clock);
    const out = track(clock, network.client("a:1", life).request("b:1", post("x", 100)));
    life.pause();
    await runVirtual(clock, 500);
    expect(out).toHaveLength(0);
    life.resume();
    await runVirtual(clock, 500);
    expect(out[0]?.at).toBe(500);
    expect(out[0]?.error?.message).toMatch(/no reply within 100 ms/);
  });

  it("replays the same event order from the same seed", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const clock = new VirtualClock();
      const network = new SimHttpNetwork({
        clock,
        seed,
        delay: { minMs: 1, maxMs: 9 },
        lossProbability: 0.2,
        duplicateProbability: 0.2,
      });
      const log: string[] = [];
      const addresses = ["n1:1", "n2:1", "n3:1"];
      for (const address of addresses) network.listen(address, fakeRoutes(clock, address, log));
      for (let i = 0; i < 30; i++) {
        const from = addresses[i % 3] as string;
        const to = addresses[(i + 1) % 3] as string;
        const promise = network.client(from).request(to, post(`${from}#${i}`, 100));
        promise.then(
          (reply) => log.push(`${from}#${i} reply ${reply.body?.toString()} @${clock.nowMs()}`),
          (error: unknown) =>
            log.push(`${from}#${i} ${(error as Error).message} @${clock.nowMs()}`),
        );
      }
      await runVirtual(clock, 1_000);
      log.push(JSON.stringify(network.counters()));
      return log;
    };
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
  });
});
