// The ring-change suite (`npm run test:ring`): real nodes bootstrapped, decommissioned and removed
// under a client load, with small and --max-value-bytes values. These files take minutes each on
// two cores, so they end in `.ring.ts` and stay out of `npm test` (test/**/*.test.ts), which must
// stay near ten minutes; CI (`.ci/run`) runs this suite right after it.

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.ring.ts"],
    testTimeout: 180_000,
    hookTimeout: 90_000,
    maxWorkers: 2,
    reporters: ["default"],
  },
});
