// The layer picture of ARCHITECTURE.md §1 as data: read by the import test
// (test/unit/architecture.test.ts) and by the newcomers' map check (test/unit/docs.test.ts), so the
// code and docs/architecture.md agree.

/**
 * Each folder's height in the picture of ARCHITECTURE.md §1: a folder may import only folders lower
 * than itself. Folders of equal height sit side by side and may not import each other, except where
 * SIDEWAYS says so.
 */
export const HEIGHT: Readonly<Record<string, number>> = {
  core: 0,
  time: 1,
  causality: 1,
  ring: 1,
  detector: 2,
  gossip: 2,
  storage: 2,
  security: 2,
  cluster: 3,
  replication: 4,
  antientropy: 4,
  topology: 5,
  net: 6,
  api: 6,
  node: 7,
  sim: 8,
  client: 8,
  cli: 9,
};
