// The node's log format: `auto` decides from whether stdout is a terminal (given here, never the
// real one), pretty lines are what a person reads, JSON lines are what a program parses.

import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, resolveLogFormat, type Logger } from "../../../src/node/logger.js";

/** A logger writing into memory, and the text it wrote. */
function capture(format: "pretty" | "json"): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  // pino's destination type wants write(); a Writable has it.
  const log = createLogger({ level: "info", format, destination, colorize: false });
  return { log, text: () => chunks.join("") };
}

describe("log format", () => {
  it("auto is pretty on a terminal and JSON on anything else", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
  });

  it("an explicit format holds whatever stdout is", () => {
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("pretty", false)).toBe("pretty");
  });

  it("pretty writes one readable line a record: level, node, message, fields", () => {
    const { log, text } = capture("pretty");
    log.child({ node: "node1" }).info({ member: "node2", phi: 9.5 }, "member down");
    const lines = text().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: node1: member down /);
    expect(lines[0]).toContain('"phi":9.5');
    expect(lines[0]).not.toContain('"pid"');
  });

  it("json writes one JSON object a line, with the node and the fields", () => {
    const { log, text } = capture("json");
    log.child({ node: "node1" }).info({ member: "node2" }, "member down");
    const record = JSON.parse(text().trimEnd()) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 30, node: "node1", member: "node2", msg: "member down" });
  });
});
