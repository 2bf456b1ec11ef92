// The extended cluster suite (`npm run test:extended`): real nodes over mTLS with tokens and
// roles, key listing across a cluster (100,000 keys in one file), the bench command end to end,
// the web console in Debian's chromium, and a node under libfaketime. Each starts its own
// processes and takes half a minute or more on two cores, so they end in `.extended.ts` and stay
// out of `npm test` (test/**/*.test.ts), which must stay near ten minutes; CI (`.ci/run`) runs
// this suite right after it.

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.extended.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    reporters: ["default"],
  },
});
