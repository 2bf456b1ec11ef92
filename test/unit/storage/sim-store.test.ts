// The store conformance suite over LevelStore on the simulator's disk (sim/sim-disk.ts): the same
// tests level-store.test.ts runs on LevelDB, so the store the simulator runs behaves as the node's
// does. An open after a close is a restart on the same disk with a new database handle.

import { createRandom } from "../../../src/core/random.js";
import { SimDisk } from "../../../src/sim/sim-disk.js";
import { VirtualClock } from "../../../src/sim/virtual-clock.js";
import { openLevelStore, type Store } from "../../../src/storage/store.js";
import { describeStoreConformance, type StoreHarness } from "./store-conformance.js";

describeStoreConformance("LevelStore on SimDisk", async (): Promise<StoreHarness> => {
  const disk = new SimDisk({ clock: new VirtualClock(), random: createRandom(1) });
  const opened: Store[] = [];
  return {
    async open(options) {
      const { sync = false, tombstoneGraceUs, limits, tokenOf } = options;
      const store = await openLevelStore(
        { dataDir: "/sim/node", sync, tombstoneGraceUs, limits },
        { tokenOf, openDatabase: () => disk.openDatabase() },
      );
      opened.push(store);
      return store;
    },
    async dispose() {
      for (const store of opened) await store.close();
      await Promise.resolve();
    },
  };
});
