#!/usr/bin/env node
// The one executable (SPEC §1). It runs the compiled CLI; `npm install` builds it (prepare).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!existsSync(main)) {
  process.stderr.write("grapevine: not built yet; run `npm run build` (npm install does it)\n");
  process.exit(1);
}
await import(main);
