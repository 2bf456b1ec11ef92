// test/support/history/ops.ts — hand-made operations for the history checker's unit tests: a
// quorum write by worker w1 through node1 and a quorum read by r1 through node2, of key "k",
// acknowledged, unless the fields given say otherwise. Ids count up across a test file.

import type { ReadOp, WriteOp } from "../../../src/sim/history/types.js";

let nextId = 0;

export function write(
  fields: Partial<WriteOp> & Pick<WriteOp, "value" | "startMs" | "endMs">,
): WriteOp {
  return {
    id: nextId++,
    kind: "write",
    worker: "w1",
    node: "node1",
    key: "k",
    level: "quorum",
    outcome: "ok",
    ...fields,
  };
}

export function read(fields: Partial<ReadOp> & Pick<ReadOp, "startMs" | "endMs">): ReadOp {
  return {
    id: nextId++,
    kind: "read",
    worker: "r1",
    node: "node2",
    key: "k",
    level: "quorum",
    outcome: "ok",
    ...fields,
  };
}
