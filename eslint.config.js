// ESLint: typescript-eslint's strict type-checked rules over src, test and bench (ARCHITECTURE §6.13).
// Where a rule's advice does not fit this codebase it is relaxed below, each with the reason.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "bench/results/", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers, booleans and bigints (tokens) print as users expect in messages; objects are still caught.
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      // `() => void promise`-style arrows and `onX: () => doIt()` callbacks are how timers and events are written here.
      "@typescript-eslint/no-confusing-void-expression": "off",
      // fastify plugins and route handlers are async by contract even when a body awaits nothing.
      "@typescript-eslint/require-await": "off",
      // `const { dropped: _dropped, ...rest } = x` and `_nowMs` parameters name what is left out on purpose.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      // Tests and benches flip flags in callbacks and read them after awaits, which narrowing cannot see.
      "@typescript-eslint/no-unnecessary-condition": "off",
      // Benches reach into the simulator's engines as the concrete ClusterView they are.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      // expect.any(...) and expect.objectContaining(...) are typed `any` by design: matchers, not values.
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      // Asserting on a method (expect(fake.method).toHaveBeenCalled()) is how spies are read.
      "@typescript-eslint/unbound-method": "off",
      // A test that just asserted a value exists may read it with `!`; a wrong guess fails the test loudly.
      "@typescript-eslint/no-non-null-assertion": "off",
      // Terminal output is matched with its escape codes.
      "no-control-regex": "off",
    },
  },
);
