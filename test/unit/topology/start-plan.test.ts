// How a start enters the ring (topology/bootstrap.ts planStart, topology/ring-state.ts): a
// restarted node with data does not bootstrap again, a node whose bootstrap was interrupted resumes
// it with the same tokens, a decommissioned node refuses to start, and only a new node with seeds
// bootstraps.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planStart } from "../../../src/topology/bootstrap.js";
import { GrapevineError } from "../../../src/core/errors.js";
import {
  readRingState,
  RingStateError,
  RING_STATE_FILE,
  writeRingState,
} from "../../../src/topology/ring-state.js";

const IDENTITY_TOKENS = [1n, 2n, 3n];
const dir = mkdtempSync(path.join(os.tmpdir(), "grapevine-ring-state-"));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("planStart", () => {
  it("bootstraps only a new node that has seeds other than itself", () => {
    expect(
      planStart({
        ringState: null,
        identityCreated: true,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 1,
      }),
    ).toEqual({ kind: "bootstrap", resumeTokens: null });
    expect(
      planStart({
        ringState: null,
        identityCreated: true,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 0,
      }),
    ).toEqual({ kind: "normal", tokens: IDENTITY_TOKENS, persist: true });
  });

  it("keeps a restarted node normal with its tokens, even one from before ring.json existed", () => {
    expect(
      planStart({
        ringState: { status: "normal", tokens: [9n] },
        identityCreated: false,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 2,
      }),
    ).toEqual({ kind: "normal", tokens: [9n], persist: false });
    expect(
      planStart({
        ringState: null,
        identityCreated: false,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 2,
      }),
    ).toEqual({ kind: "normal", tokens: IDENTITY_TOKENS, persist: true });
  });

  it("resumes an interrupted bootstrap with the tokens it had announced", () => {
    expect(
      planStart({
        ringState: { status: "joining", tokens: [7n, 8n] },
        identityCreated: false,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 1,
      }),
    ).toEqual({ kind: "bootstrap", resumeTokens: [7n, 8n] });
    expect(
      planStart({
        ringState: { status: "joining", tokens: [] },
        identityCreated: false,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 1,
      }),
    ).toEqual({ kind: "bootstrap", resumeTokens: null });
  });

  it("refuses to start a decommissioned node", () => {
    expect(() =>
      planStart({
        ringState: { status: "left", tokens: [] },
        identityCreated: false,
        identityTokens: IDENTITY_TOKENS,
        otherSeeds: 1,
      }),
    ).toThrow(GrapevineError);
  });
});

describe("ring.json", () => {
  it("round-trips a state and reads a missing file as none", async () => {
    expect(await readRingState(path.join(dir, "absent"))).toBeNull();
    await writeRingState(dir, { status: "joining", tokens: [0n, 2n ** 64n - 1n] });
    expect(await readRingState(dir)).toEqual({ status: "joining", tokens: [0n, 2n ** 64n - 1n] });
  });

  it("refuses a file that is not a ring state, with its path", async () => {
    const bad = mkdtempSync(path.join(dir, "bad-"));
    writeFileSync(
      path.join(bad, RING_STATE_FILE),
      JSON.stringify({ format: 1, status: "sideways", tokens: [] }),
    );
    await expect(readRingState(bad)).rejects.toThrow(RingStateError);
    writeFileSync(path.join(bad, RING_STATE_FILE), "{");
    await expect(readRingState(bad)).rejects.toThrow(/not valid JSON/);
  });
});
