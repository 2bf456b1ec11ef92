// ESLint: typescript-eslint's strict type-checked rules over src, test and bench (ARCHITECTURE §6.13).
// Where a rule's advice does not fit this codebase it is relaxed below, each with the reason.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "bench/results/", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers, booleans and bigints (tokens) print as users expect in messages; objects are still caught.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // `() => void promise`-style arrows and `onX: () => doIt()` callbacks are how timers and events are written here.
      "@typescript-eslint/no-confusing-void-expression": "off",
      // fastify plugins and route handlers are async by contract even when a body awaits nothing.
      "@typescript-eslint/require-await": "off",
    },
  },
);
