import { describe, it, expect } from "vitest";
import {
  cutDelta,
  EndpointRecord,
  mergeDelta,
  type MergeOptions,
} from "../../../src/gossip/endpoint-state.js";
import {
  estimateEntryBytes,
  estimateStateBytes,
  type Delta,
} from "../../../src/gossip/messages.js";

const options: MergeOptions = { urgentKeys: new Set(["status"]), appStatesPerEndpointMax: 3 };

function record(states: Record<string, [string, number]> = {}, maxVersion = 0): EndpointRecord {
  const r = new EndpointRecord({ id: "x", address: "10.0.0.1:7001", generation: 5 });
  for (const [key, [value, version]] of Object.entries(states)) r.put({ key, value, version });
  r.maxVersion = maxVersion;
  return r;
}

function delta(
  fromVersion: number,
  throughVersion: number,
  states: Array<[string, string, number]>,
): Delta {
  return {
    id: "x",
    address: "10.0.0.1:7001",
    generation: 5,
    fromVersion,
    throughVersion,
    states: states.map(([key, value, version]) => ({ key, value, version })),
  };
}

describe("mergeDelta", () => {
  it("takes newer versions and ignores older or equal ones", () => {
    const r = record({ status: ["joining", 2], tokens: ["1,2", 3] }, 3);
    const result = mergeDelta(
      r,
      delta(1, 4, [
        ["status", "stale", 1],
        ["tokens", "same-version", 3],
        ["load", "9,9", 4],
      ]),
      options,
    );
    expect(r.appStates.get("status")).toMatchObject({ value: "joining", version: 2 });
    expect(r.appStates.get("tokens")).toMatchObject({ value: "1,2", version: 3 });
    expect(r.appStates.get("load")).toMatchObject({ value: "9,9", version: 4 });
    expect(result.changed).toBe(true);
    expect(result.urgentVersionMin).toBeNull();
    expect(r.maxVersion).toBe(4);
  });

  it("reports the oldest urgent state that took a newer value", () => {
    const r = record({ status: ["joining", 1] }, 1);
    const result = mergeDelta(
      r,
      delta(1, 3, [
        ["tokens", "1", 2],
        ["status", "normal", 3],
      ]),
      options,
    );
    expect(result.urgentVersionMin).toBe(3);
  });

  it("applies a state beyond a gap but does not claim the versions in the gap", () => {
    const r = record({ status: ["joining", 1] }, 1);
    mergeDelta(r, delta(6, 7, [["status", "normal", 7]]), options);
    expect(r.appStates.get("status")?.value).toBe("normal");
    expect(r.maxVersion).toBe(1);
    // The exchange later fills the gap from what we claimed; the claim then advances past the
    // rumor.
    mergeDelta(
      r,
      delta(1, 7, [
        ["tokens", "1", 4],
        ["status", "normal", 7],
      ]),
      options,
    );
    expect(r.maxVersion).toBe(7);
  });

  it("refuses a new key beyond appStatesPerEndpointMax and then does not advance its claim", () => {
    const r = record({ a: ["1", 1], b: ["2", 2], c: ["3", 3] }, 3);
    const result = mergeDelta(r, delta(3, 4, [["d", "4", 4]]), options);
    expect(result.refused).toBe(1);
    expect(r.appStates.has("d")).toBe(false);
    expect(r.maxVersion).toBe(3);
  });
});

describe("cutDelta", () => {
  it("sends the states above the peer's version, oldest first", () => {
    const r = record({ c: ["3", 9], a: ["1", 4], b: ["2", 6] }, 9);
    const cut = cutDelta(r, { fromVersion: 4, throughVersion: 9 }, 10_000);
    expect(cut?.delta.states.map((s) => s.version)).toEqual([6, 9]);
    expect(cut?.delta.throughVersion).toBe(9);
    expect(cut?.truncated).toBe(false);
  });

  it("cut short by the byte budget claims only up to its last state", () => {
    const r = record(
      { a: ["x".repeat(100), 1], b: ["y".repeat(100), 2], c: ["z".repeat(100), 3] },
      3,
    );
    const room =
      estimateEntryBytes("x", "10.0.0.1:7001") + 2 * estimateStateBytes("a", "x".repeat(100));
    const cut = cutDelta(r, { fromVersion: 0, throughVersion: 3 }, room);
    expect(cut?.delta.states.map((s) => s.key)).toEqual(["a", "b"]);
    expect(cut?.delta.throughVersion).toBe(2);
    expect(cut?.bytes).toBe(room);
    expect(cut?.truncated).toBe(true);
  });

  it("returns null when not even the entry and its first state fit", () => {
    const r = record({ a: ["x".repeat(100), 1] }, 1);
    expect(cutDelta(r, { fromVersion: 0, throughVersion: 1 }, 50)).toBeNull();
  });
});
