import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Cluster tests start real processes; they need more than the default 5 s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run files in parallel but not so many that multi-process cluster tests starve.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
