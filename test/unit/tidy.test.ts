// Tidy, in TigerBeetle's spirit: size rules that keep src/ readable, checked on the TypeScript
// syntax tree so a violation names its file and line. A function longer than FUNCTION_LINES_MAX
// does more than one thing; a file longer than FILE_LINES_MAX has more than one purpose. (The
// banned calls of the pure folders and the import direction are test/unit/architecture.test.ts's.)

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SRC = path.join(ROOT, "src");

/** From its first line to the last line of its body. */
const FUNCTION_LINES_MAX = 70;
const FILE_LINES_MAX = 500;
/**
 * Prettier's printWidth. Prettier breaks neither a string, a template (substitutions included) nor
 * a regex literal, and a message kept whole stays grep-able, so the characters of literals on a
 * line do not count against it (as eslint's max-len ignoreStrings); a comment prettier leaves alone
 * does count.
 */
const LINE_COLUMNS_MAX = 100;
const LINE_RULE_FOLDERS = ["src", "test", "bench"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return entry.endsWith(".ts") ? [full] : [];
  });
}

interface FunctionSpan {
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** Its own name, else the variable or property it is assigned to, else "(anonymous)". */
function nameOf(node: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  if (node.name !== undefined) return node.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (
    ts.isVariableDeclaration(parent) ||
    ts.isPropertyAssignment(parent) ||
    ts.isPropertyDeclaration(parent)
  )
    return parent.name.getText(source);
  return "(anonymous)";
}

/**
 * Every function, method, arrow, constructor and accessor with a body, with its length in lines.
 */
function functionsOf(file: string, text: string): FunctionSpan[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionLike(node) && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      spans.push({ name: nameOf(node, source), line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

function isLiteral(node: ts.Node): boolean {
  return (
    ts.isStringLiteral(node) ||
    ts.isNoSubstitutionTemplateLiteral(node) ||
    ts.isTemplateExpression(node) ||
    ts.isRegularExpressionLiteral(node)
  );
}

/** Lines longer than LINE_COLUMNS_MAX once the characters of literals on them are set aside. */
function overlongLines(file: string, text: string): number[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const lineStarts = source.getLineStarts();
  const literalChars = new Array<number>(lineStarts.length).fill(0);
  const visit = (node: ts.Node): void => {
    if (isLiteral(node)) {
      for (let pos = node.getStart(source); pos < node.end; pos++) {
        const line = source.getLineAndCharacterOfPosition(pos).line;
        literalChars[line] = (literalChars[line] ?? 0) + 1;
      }
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return text.split("\n").flatMap((line, index) => {
    const counted = line.length - (literalChars[index] ?? 0);
    return counted > LINE_COLUMNS_MAX ? [index + 1] : [];
  });
}

const files = sourceFiles(SRC).map((file) => ({
  relative: path.relative(SRC, file).split(path.sep).join("/"),
  text: readFileSync(file, "utf8"),
  file,
}));

describe("tidy", () => {
  it("measures functions, including nested arrows", () => {
    const body = Array.from({ length: 5 }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const spans = functionsOf(
      "x.ts",
      `export function outer(): void {\n${body}\n  const inner = () => {\n    return 1;\n  };\n}\n`,
    );
    expect(spans).toEqual([
      { name: "outer", line: 1, lines: 10 },
      { name: "inner", line: 7, lines: 3 },
    ]);
  });

  it(`keeps every function in src/ within ${FUNCTION_LINES_MAX} lines`, () => {
    const long = files.flatMap(({ file, relative, text }) =>
      functionsOf(file, text)
        .filter((span) => span.lines > FUNCTION_LINES_MAX)
        .map((span) => `${relative}:${span.line} ${span.name} is ${span.lines} lines`),
    );
    expect(long).toEqual([]);
  });

  it(`keeps every file in src/ within ${FILE_LINES_MAX} lines`, () => {
    const long = files
      .map(({ relative, text }) => ({
        relative,
        lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0),
      }))
      .filter(({ lines }) => lines > FILE_LINES_MAX)
      .map(({ relative, lines }) => `${relative} is ${lines} lines`);
    expect(long).toEqual([]);
  });

  it("sets literals aside when it measures a line", () => {
    const long = `const message = "${"m".repeat(120)}";`;
    const code = `const sum = ${Array.from({ length: 40 }, (_, i) => i).join(" + ")};`;
    expect(overlongLines("x.ts", `${long}\n${code}\n// ${"c".repeat(110)}\n`)).toEqual([2, 3]);
  });

  it(`keeps every line in ${LINE_RULE_FOLDERS.join(", ")} within ${LINE_COLUMNS_MAX} columns`, () => {
    const long = LINE_RULE_FOLDERS.flatMap((folder) =>
      sourceFiles(path.join(ROOT, folder)).flatMap((file) =>
        overlongLines(file, readFileSync(file, "utf8")).map(
          (line) => `${path.relative(ROOT, file).split(path.sep).join("/")}:${line}`,
        ),
      ),
    );
    expect(long).toEqual([]);
  });
});
