// The two structural rules of ARCHITECTURE.md that no type checker enforces:
//  §1/§6.6 imports point down: a layer never imports a layer above it;
//  §6.2 the protocol cores are pure: no wall clock, no global chance, no timers, no IO, no env.
// Imports are read from the TypeScript syntax tree (static, `export … from`, `import type` and
// dynamic `import()`), so an import spread over several lines cannot slip past a line-by-line
// reading. The allow-list is the real dependency graph, exactly: an edge the code gains must be
// added here on purpose (and must point down), and an edge the code loses must be taken out, so the
// picture in ARCHITECTURE.md and this list never drift apart.

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { HEIGHT } from "../support/layers.js";

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

/** Edges between folders of equal height that the design accepts, with the reason. */
const SIDEWAYS: Readonly<Record<string, string>> = {
  "api->net": "the metrics read the transport's counters",
};

/** The folders each folder imports from, exactly as the code does today. */
const IMPORTS: Readonly<Record<string, readonly string[]>> = {
  core: [],
  causality: ["core"],
  time: ["core"],
  ring: ["core"],
  detector: ["core"],
  gossip: ["core"],
  storage: ["core", "ring"],
  security: ["core"],
  cluster: ["core", "detector", "gossip", "ring"],
  replication: ["cluster", "core", "ring", "storage", "time"],
  antientropy: ["core", "ring", "storage"],
  topology: ["cluster", "core", "ring", "storage"],
  net: ["antientropy", "cluster", "core", "replication", "security", "storage", "topology"],
  api: [
    "antientropy",
    "cluster",
    "core",
    "net",
    "replication",
    "ring",
    "security",
    "storage",
    "time",
    "topology",
  ],
  node: [
    "antientropy",
    "api",
    "cluster",
    "core",
    "net",
    "replication",
    "ring",
    "security",
    "storage",
    "time",
    "topology",
  ],
  sim: ["antientropy", "api", "cluster", "core", "net", "node", "replication", "ring", "storage"],
  client: ["core", "ring"],
  cli: ["antientropy", "client", "core", "node", "replication", "security", "sim", "storage"],
};

/**
 * Files whose code must be deterministic given its inputs (ARCHITECTURE §1, §6.2). The simulator's
 * loop (sim/sim-loop.ts) is its one exception: it yields with setImmediate so the real node code's
 * promise continuations run between virtual instants; it reads no clock.
 */
const PURE = [
  /^causality\//,
  /^ring\//,
  /^gossip\//,
  /^detector\//,
  /^cluster\//,
  /^time\//,
  /^sim\/(?!sim-loop\.ts$)/,
  /^replication\/consistency\.ts$/,
  /^storage\/(record|layout|expiry)\.ts$/,
  /^antientropy\/tree-diff\.ts$/,
  /^client\/(routing|retry-policy|ring-snapshot)\.ts$/,
];

const BANNED_IN_PURE: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /\bDate\.now\s*\(/, why: "reads the wall clock" },
  { pattern: /\bnew Date\s*\(\s*\)/, why: "reads the wall clock" },
  { pattern: /\bperformance\.now\s*\(/, why: "reads a clock" },
  { pattern: /\bMath\.random\s*\(/, why: "uses global chance" },
  { pattern: /\bset(Timeout|Interval|Immediate)\s*\(/, why: "owns a timer" },
  { pattern: /\bprocess\.(env|argv|hrtime)\b/, why: "reads the process" },
];

/**
 * The runtime layer: the only folders that read the clock or own timers. Everything else takes time
 * from the injected Clock (core/clock.ts), so the simulator can run it under virtual time.
 * (setImmediate stays allowed: it orders work within a turn, it does not measure time.) The HTTP
 * server counts as runtime too: its one timer bounds how long a refused socket may take to flush.
 * So does the node's peer transport (net/undici-peer-http.ts), the socket edge under the peer
 * clients: its one timer per request is the PeerHttp port's deadline, which the simulator's own
 * PeerHttp keeps on virtual time instead. The client library's system clock
 * (client/system-clock.ts) is the Clock its backoff, deadlines and ring refreshes run on in an
 * application; tests give the client a virtual one.
 */
const RUNTIME =
  /^(node|cli)\/|^api\/http-server\.ts$|^net\/undici-peer-http\.ts$|^client\/system-clock\.ts$/;
const CLOCK_CALLS: readonly { pattern: RegExp; why: string }[] = BANNED_IN_PURE.filter(
  ({ why }) => why === "reads the wall clock" || why === "reads a clock",
).concat([{ pattern: /\bset(Timeout|Interval)\s*\(/, why: "owns a timer" }]);

/** Modules a pure file may not import at all. */
const IO_MODULES =
  /^(node:)?(fs|fs\/promises|net|http|https|dgram|child_process|worker_threads)$|^(undici|fastify|level|classic-level|pino)$/;

interface Import {
  readonly line: number;
  readonly specifier: string;
}

/** Every module specifier the file names: import/export declarations and dynamic import(). */
function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: Import[] = [];
  const add = (node: ts.Node, literal: ts.Expression | undefined): void => {
    if (literal === undefined || !ts.isStringLiteral(literal)) return;
    found.push({
      line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      specifier: literal.text,
    });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node))
      add(node, node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node, node.arguments[0]);
    else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference)
    )
      add(node, node.moduleReference.expression);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const files = sourceFiles(SRC).map((file) => {
  const text = readFileSync(file, "utf8");
  const relative = path.relative(SRC, file).split(path.sep).join("/");
  return {
    file,
    relative,
    layer: relative.split("/")[0] as string,
    text,
    imports: importsOf(file, text),
  };
});

/** The folder a relative specifier lands in, or null for a package. */
function targetLayer(file: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  return path
    .relative(SRC, path.resolve(path.dirname(file), specifier))
    .split(path.sep)[0] as string;
}

describe("architecture", () => {
  it("finds the sources and their imports, including ones written over several lines", () => {
    expect(files.length).toBeGreaterThan(10);
    const multiLine = importsOf(
      "x.ts",
      'import {\n  a,\n  b,\n} from "../net/codec.js";\nexport type { C } from "../api/errors.js";\nawait import("../node/node.js");\n',
    );
    expect(multiLine.map((entry) => entry.specifier)).toEqual([
      "../net/codec.js",
      "../api/errors.js",
      "../node/node.js",
    ]);
  });

  it("has every folder of src/ in the picture", () => {
    const unknown = [...new Set(files.map((entry) => entry.layer))].filter(
      (layer) => HEIGHT[layer] === undefined || IMPORTS[layer] === undefined,
    );
    expect(unknown).toEqual([]);
  });

  it("allows only edges that point down the layers (or are named as sideways)", () => {
    const wrong: string[] = [];
    for (const [from, targets] of Object.entries(IMPORTS)) {
      for (const to of targets) {
        const up = (HEIGHT[to] as number) > (HEIGHT[from] as number);
        const level = HEIGHT[to] === HEIGHT[from];
        if (up || (level && SIDEWAYS[`${from}->${to}`] === undefined))
          wrong.push(`${from} -> ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps the import graph equal to the allow-list, both ways", () => {
    const actual = new Map<string, Set<string>>();
    const violations: string[] = [];
    for (const { file, relative, layer, imports } of files) {
      for (const { line, specifier } of imports) {
        const target = targetLayer(file, specifier);
        if (target === null || target === layer) continue;
        if (!actual.has(layer)) actual.set(layer, new Set());
        actual.get(layer)?.add(target);
        if (!(IMPORTS[layer] ?? []).includes(target))
          violations.push(
            `${relative}:${line} imports ${specifier} (src/${layer} may not depend on src/${target})`,
          );
      }
    }
    for (const [from, targets] of Object.entries(IMPORTS)) {
      for (const to of targets) {
        if (actual.get(from)?.has(to) !== true)
          violations.push(
            `allow-list edge ${from} -> ${to} is not in the code any more: take it out`,
          );
      }
    }
    expect(violations).toEqual([]);
  });

  it("reads time only through the Clock port outside the runtime layer (node/, cli/)", () => {
    const violations: string[] = [];
    for (const { relative, text } of files) {
      if (RUNTIME.test(relative)) continue;
      text.split("\n").forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, "");
        for (const { pattern, why } of CLOCK_CALLS) {
          if (pattern.test(code))
            violations.push(`${relative}:${index + 1} ${why}: ${line.trim()}`);
        }
      });
    }
    expect(violations).toEqual([]);
  });

  it("keeps the protocol cores pure: no clock, no Math.random, no timers, no IO", () => {
    const violations: string[] = [];
    for (const { relative, text, imports } of files) {
      if (!PURE.some((pattern) => pattern.test(relative))) continue;
      for (const { line, specifier } of imports) {
        if (IO_MODULES.test(specifier))
          violations.push(`${relative}:${line} does IO: imports ${specifier}`);
      }
      // Comments may name what they avoid; only code counts.
      const stripped = text.split("\n").map((line) => line.replace(/\/\/.*$/, ""));
      stripped.forEach((line, index) => {
        for (const { pattern, why } of BANNED_IN_PURE) {
          if (pattern.test(line))
            violations.push(`${relative}:${index + 1} ${why}: ${line.trim()}`);
        }
      });
    }
    expect(violations).toEqual([]);
  });
});
