// The fault suite (test/faults, `npm run test:faults`): real nodes in network namespaces,
// partitions and crashes, each scenario judged by the history checker. Needs root. Its files end in
// `.faults.ts` so the default config (test/**/*.test.ts, `npm test`) never picks them up; they run
// one file at a time, since each starts a five-node cluster on a two-core machine.

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/faults/**/*.faults.ts"],
    globalSetup: ["test/faults/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ["default"],
  },
});
