// The history checker's two crash models (src/sim/history/power-loss.ts): with --sync off a power
// loss may take the unsynced tail of a disk, so an acknowledged write may be missing once at least
// rf − quorum + 1 of its key's replicas lost power after it started and before the kernel wrote it
// back; every other loss is still a violation, as is any loss with --sync on. Also: an invariant a
// node broke during the run fails the check by name, node and time.

import { describe, expect, it } from "vitest";
import { checkHistory } from "../../../src/sim/history/checker.js";
import type {
  Durability,
  History,
  HistoryOp,
  PowerLoss,
  ReadOp,
  WriteOp,
} from "../../../src/sim/history/types.js";

let nextId = 0;

function write(fields: Partial<WriteOp> & Pick<WriteOp, "value" | "startMs" | "endMs">): WriteOp {
  return {
    id: nextId++,
    kind: "write",
    worker: "w1",
    node: "n1",
    key: "k",
    level: "quorum",
    outcome: "ok",
    ...fields,
  };
}

function finalRead(fields: Partial<ReadOp>): ReadOp {
  return {
    id: nextId++,
    kind: "read",
    worker: "final",
    node: "n1",
    key: "k",
    level: "quorum",
    outcome: "ok",
    startMs: 100_000,
    endMs: 100_010,
    ...fields,
  };
}

const HORIZON_MS = 30_000;
const REPLICAS = ["n1", "n2", "n3"];

/** A durable old write, then a newer one the final reads miss: they return the old value. */
function lostNewest(
  losses: readonly PowerLoss[],
  sync: Durability["sync"] = "off",
  finalValue = "w1:1",
): History {
  const old = write({ value: "w1:1", startMs: 0, endMs: 10, timestampUs: 1_000 });
  const newer = write({ value: "w1:2", startMs: 40_000, endMs: 40_010, timestampUs: 2_000 });
  const ops: HistoryOp[] = [old, newer];
  const finalReads = REPLICAS.map((node) =>
    finalRead({ node, value: finalValue, timestampUs: finalValue === "w1:1" ? 1_000 : 500 }),
  );
  const version = { timestampUs: 1_000, writer: "n1", value: "w1:1", tombstone: false };
  return {
    name: "power losses",
    startedAt: "2026-01-01T00:00:00.000Z",
    ops:
      finalValue === "w1:1"
        ? ops
        : [write({ value: finalValue, startMs: -10, endMs: -5, outcome: "indeterminate" }), ...ops],
    finalReads,
    replicas: [{ key: "k", copies: REPLICAS.map((node) => ({ node, version })) }],
    events: [],
    durability: { sync, powerLosses: losses, writebackHorizonMs: HORIZON_MS },
  };
}

function kinds(history: History): string[] {
  return checkHistory(history).violations.map((violation) => violation.kind);
}

describe("the checker under power losses", () => {
  it("excuses a write that two of its three replicas lost power in time to lose, with --sync off", () => {
    const result = checkHistory(
      lostNewest([
        { node: "n1", atMs: 40_005 },
        { node: "n3", atMs: 60_000 },
      ]),
    );
    expect(result.violations).toEqual([]);
    expect(result.summary.lossesExcused).toBe(1);
  });

  it("still finds the loss when only one replica lost power (rf − quorum = 1 may lose its disk)", () => {
    const result = checkHistory(
      lostNewest([
        { node: "n1", atMs: 40_005 },
        { node: "n1", atMs: 50_000 },
      ]),
    );
    expect(result.violations.map((violation) => violation.kind)).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
    expect(result.violations[0]?.message).toContain(
      "power losses of its replicas that could have taken it: n1 at 40005; the promise needs 2",
    );
    expect(result.summary.lossesExcused).toBe(0);
  });

  it("does not count a power loss before the write started, or after the kernel wrote it back", () => {
    expect(
      kinds(
        lostNewest([
          { node: "n1", atMs: 39_999 },
          { node: "n2", atMs: 40_005 },
        ]),
      ),
    ).toContain("lost-write");
    expect(
      kinds(
        lostNewest([
          { node: "n1", atMs: 40_005 },
          { node: "n2", atMs: 40_010 + HORIZON_MS },
        ]),
      ),
    ).toContain("lost-write");
    expect(
      kinds(
        lostNewest([
          { node: "n1", atMs: 40_005 },
          { node: "n2", atMs: 40_009 + HORIZON_MS },
        ]),
      ),
    ).toEqual([]);
  });

  it("does not count machines that are not the key's replicas", () => {
    expect(
      kinds(
        lostNewest([
          { node: "n4", atMs: 40_005 },
          { node: "n5", atMs: 40_006 },
        ]),
      ),
    ).toContain("lost-write");
  });

  it("excuses nothing with --sync on: a synced write survives power loss", () => {
    expect(
      kinds(
        lostNewest(
          [
            { node: "n1", atMs: 40_005 },
            { node: "n2", atMs: 40_006 },
          ],
          "on",
        ),
      ),
    ).toContain("lost-write");
  });

  it("excuses only the writes the losses could take: an older, written-back one must still be seen", () => {
    // The final reads return something older than the durable w1:1: not excused by losses at 40 s.
    const history = lostNewest(
      [
        { node: "n1", atMs: 40_005 },
        { node: "n2", atMs: 40_006 },
      ],
      "off",
      "w0:1",
    );
    const result = checkHistory(history);
    expect(result.violations.map((violation) => violation.kind)).toEqual([
      "lost-write",
      "lost-write",
      "lost-write",
    ]);
    expect(result.violations[0]?.message).toContain("write #");
    expect(result.violations[0]?.message).toContain('"w1:1"');
  });

  it("excuses a stale read only for losses before the read ended", () => {
    const base = lostNewest([
      { node: "n1", atMs: 40_005 },
      { node: "n3", atMs: 45_000 },
    ]);
    const before = {
      id: nextId++,
      kind: "read" as const,
      worker: "r",
      node: "n2",
      key: "k",
      level: "quorum",
      outcome: "ok" as const,
      value: "w1:1",
      timestampUs: 1_000,
    };
    const afterBoth: ReadOp = { ...before, startMs: 46_000, endMs: 46_010 };
    const between: ReadOp = { ...before, id: nextId++, startMs: 41_000, endMs: 41_010 };
    expect(kinds({ ...base, ops: [...base.ops, afterBoth] })).toEqual([]);
    expect(kinds({ ...base, ops: [...base.ops, between] })).toEqual(["stale-read"]);
  });

  it("fails a run in which a node broke an invariant, naming it, the node and the time", () => {
    const base = lostNewest([], "on");
    const history: History = {
      ...base,
      finalReads: base.finalReads.map((op) => ({ ...op, value: "w1:2", timestampUs: 2_000 })),
      invariants: [
        {
          invariant: "hint-bytes",
          node: "n2",
          atMs: 12_000,
          message: "n2 counts 70000 pending hint bytes for n3, over its limit of 65536",
        },
      ],
    };
    const result = checkHistory(history);
    expect(result.ok).toBe(false);
    expect(result.violations.map((violation) => violation.kind)).toEqual(["invariant-broken"]);
    expect(result.violations[0]?.message).toBe(
      "n2 broke hint-bytes at 12000 ms: n2 counts 70000 pending hint bytes for n3, over its limit of 65536",
    );
  });
});
