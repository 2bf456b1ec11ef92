// A child process for level-store.test.ts: writes waves of records through a LevelStore and prints
// "acked <wave>" after each wave's apply() resolved, until it is killed. Run with
// `node --import tsx sigkill-writer.ts <dataDir> <on|off>`.

import { openLevelStore } from "../../../src/storage/store.js";

const [dataDir, syncFlag] = process.argv.slice(2);
if (dataDir === undefined || (syncFlag !== "on" && syncFlag !== "off")) {
  process.stderr.write("usage: sigkill-writer.ts <dataDir> <on|off>\n");
  process.exit(2);
}

export const WRITES_PER_WAVE = 10;

const store = await openLevelStore({ dataDir, sync: syncFlag === "on" });
process.stdout.write("open\n");
for (let wave = 0; ; wave++) {
  const writes = Array.from({ length: WRITES_PER_WAVE }, (_, i) => ({
    key: `wave-${wave}-${i}`,
    record: {
      value: Buffer.from(`value-${wave}-${i}`),
      contentType: "text/plain",
      timestampUs: wave + 1,
      writer: "child",
      tombstone: false,
    },
  }));
  // Half the wave in one apply, the other half as separate applies in the same turn: one batch.
  await Promise.all([
    store.apply(writes.slice(0, 5)),
    ...writes.slice(5).map((write) => store.apply([write])),
  ]);
  process.stdout.write(`acked ${wave}\n`);
}
