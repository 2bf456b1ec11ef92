// The two structural rules of ARCHITECTURE.md that no type checker enforces:
//  §1/§6.6 imports point down: a layer never imports a layer above it;
//  §6.2 the protocol cores are pure: no wall clock, no global chance, no timers, no IO, no env.
// Both are checked by reading the sources, so a violation fails here with the file and line.

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "src");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (entry.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Which top-level folders of src/ each folder may import from (itself always allowed). */
const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  core: [],
  time: ["core"],
  ring: ["core"],
  detector: ["core", "ring"],
  gossip: ["core"],
  cluster: ["core", "ring", "detector", "gossip"],
  storage: ["core", "ring", "time"],
  replication: ["core", "ring", "time", "cluster", "storage"],
  antientropy: ["core", "ring", "time", "cluster", "storage", "replication"],
  topology: ["core", "ring", "time", "cluster", "storage", "replication", "antientropy"],
  // net and api sit side by side at the top of the picture: peer routes answer with the API's error bodies,
  // and the metrics read the transport's counters.
  net: ["core", "ring", "time", "cluster", "gossip", "detector", "storage", "replication", "antientropy", "topology", "api"],
  api: ["core", "ring", "time", "cluster", "storage", "replication", "antientropy", "topology", "net"],
  node: ["core", "ring", "time", "cluster", "gossip", "detector", "storage", "replication", "antientropy", "topology", "net", "api"],
  cli: ["core", "ring", "time", "cluster", "storage", "replication", "antientropy", "topology", "net", "api", "node", "sim", "bench"],
  // The simulator wires the pure cores to virtual time; it encodes messages exactly as the wire does.
  sim: ["core", "ring", "time", "cluster", "gossip", "detector", "storage", "replication", "antientropy", "net"],
};

/** Files whose code must be deterministic given its inputs (ARCHITECTURE §1, §6.2). */
const PURE = [/^ring\//, /^gossip\//, /^detector\//, /^cluster\//, /^time\//, /^sim\//, /^replication\/consistency\.ts$/, /^storage\/(record|layout)\.ts$/, /^antientropy\/tree-diff\.ts$/];

const BANNED_IN_PURE: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /\bDate\.now\s*\(/, why: "reads the wall clock" },
  { pattern: /\bnew Date\s*\(\s*\)/, why: "reads the wall clock" },
  { pattern: /\bperformance\.now\s*\(/, why: "reads a clock" },
  { pattern: /\bMath\.random\s*\(/, why: "uses global chance" },
  { pattern: /\bset(Timeout|Interval|Immediate)\s*\(/, why: "owns a timer" },
  { pattern: /\bprocess\.(env|argv|hrtime)\b/, why: "reads the process" },
  { pattern: /from\s+["'](node:)?(fs|fs\/promises|net|http|https|dgram|child_process|worker_threads)["']/, why: "does IO" },
  { pattern: /from\s+["'](undici|fastify|level|classic-level|pino)["']/, why: "does IO" },
];

const files = sourceFiles(SRC).map((file) => ({ file, relative: path.relative(SRC, file).split(path.sep).join("/") }));

describe("architecture", () => {
  it("finds the sources", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it("keeps imports pointing down the layers", () => {
    const violations: string[] = [];
    for (const { file, relative } of files) {
      const layer = relative.split("/")[0] as string;
      const allowed = ALLOWED_IMPORTS[layer];
      if (allowed === undefined) {
        violations.push(`${relative}: folder src/${layer} has no place in ALLOWED_IMPORTS (add it to this test)`);
        continue;
      }
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, index) => {
        const match = /^\s*(?:import|export)\b[^"']*from\s+["'](\.{1,2}\/[^"']+)["']/.exec(line) ?? /^\s*import\s+["'](\.{1,2}\/[^"']+)["']/.exec(line);
        if (match === null) return;
        const target = path.relative(SRC, path.resolve(path.dirname(file), match[1] as string)).split(path.sep).join("/");
        const targetLayer = target.split("/")[0] as string;
        if (targetLayer !== layer && !allowed.includes(targetLayer)) {
          violations.push(`${relative}:${index + 1} imports ${target} (src/${layer} may not depend on src/${targetLayer})`);
        }
      });
    }
    expect(violations).toEqual([]);
  });

  it("keeps the protocol cores pure: no clock, no Math.random, no timers, no IO", () => {
    const violations: string[] = [];
    for (const { file, relative } of files) {
      if (!PURE.some((pattern) => pattern.test(relative))) continue;
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, "");
        for (const { pattern, why } of BANNED_IN_PURE) {
          if (pattern.test(code)) violations.push(`${relative}:${index + 1} ${why}: ${line.trim()}`);
        }
      });
    }
    expect(violations).toEqual([]);
  });
});
