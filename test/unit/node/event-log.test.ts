// What a node logs of membership and ring events: a member down with its evidence (a clean stop
// announced, or convicted with this node's phi), and the ring once per distinct ring, at info only
// once the node has learned the ring.

import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { MemberView } from "../../../src/cluster/engine.js";
import type { Clock } from "../../../src/core/clock.js";
import { ClusterEventLog, type EventLogEngine } from "../../../src/node/event-log.js";
import { createLogger } from "../../../src/node/logger.js";
import { TokenMap } from "../../../src/ring/token-map.js";

const clock: Clock = { nowMs: () => 0, schedule: () => () => undefined };

function member(id: string, fields: Partial<MemberView>): MemberView {
  return {
    id,
    address: `127.0.0.1:${id.length}`,
    status: "normal",
    live: false,
    phi: null,
    generation: 7,
    heartbeat: 3,
    tokens: 16,
    ownership: 0.25,
    keys: null,
    bytes: null,
    ...fields,
  };
}

function setup(members: MemberView[], learned: boolean) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n"))
        if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let fingerprint = "a";
  const engine: EventLogEngine = {
    members: () => members,
    ring: () => TokenMap.build(new Map([["n1", [1n, 5n]]])),
    ringFingerprint: () => fingerprint,
  };
  const log = new ClusterEventLog(
    createLogger({ level: "debug", destination }),
    engine,
    clock,
    () => learned,
  );
  return { log, lines, setFingerprint: (next: string) => (fingerprint = next) };
}

describe("ClusterEventLog", () => {
  it("logs a convicted member down with this node's phi, rounded", () => {
    const { log, lines } = setup([member("n2", { phi: 9.87654 })], true);
    log.record({ kind: "member-down", id: "n2" });
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: "member down",
      member: "n2",
      cause: "convicted by its monitors",
      phi: 9.9,
      generation: 7,
    });
  });

  it("says a member that announced a clean stop is down for that", () => {
    const { log, lines } = setup([member("n3", { shutdown: true })], true);
    log.record({ kind: "member-down", id: "n3" });
    expect(lines[0]).toMatchObject({ member: "n3", cause: "announced a clean stop", phi: null });
  });

  it("logs the ring once per distinct ring, at info once the ring is learned", () => {
    const { log, lines, setFingerprint } = setup([], true);
    log.record({ kind: "tokens-changed" });
    log.record({ kind: "tokens-changed" });
    setFingerprint("b");
    log.record({ kind: "tokens-changed" });
    expect(
      lines.map((line) => [line["level"], line["msg"], line["nodes"], line["tokens"]]),
    ).toEqual([
      [30, "ring changed", 1, 2],
      [30, "ring changed", 1, 2],
    ]);
  });

  it("keeps the ring's changes to debug while the node is still learning it", () => {
    const { log, lines } = setup([], false);
    log.record({ kind: "tokens-changed" });
    expect(lines.map((line) => line["level"])).toEqual([20]);
  });
});
