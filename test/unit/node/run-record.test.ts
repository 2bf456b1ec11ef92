// The rule that decides whether a start may have lost acknowledged writes (node/run-record.ts).

import { describe, expect, it } from "vitest";
import {
  decideStart,
  encodeRunRecord,
  parseRunRecord,
  type RunRecord,
} from "../../../src/node/run-record.js";

const crashed: RunRecord = { bootId: "boot-a", sync: false, cleanStop: false, recovering: false };

describe("decideStart", () => {
  it("repairs before serving reads only after an unclean stop with --sync off across a reboot", () => {
    expect(decideStart(crashed, "boot-b")).toEqual({ recovering: true, reason: "lost-page-cache" });
  });

  it("trusts the disk after a process crash on the same boot: the page cache survived it", () => {
    expect(decideStart(crashed, "boot-a")).toEqual({ recovering: false, reason: "same-boot" });
  });

  it("trusts the disk when the last run fsynced every acknowledged write, or stopped cleanly", () => {
    expect(decideStart({ ...crashed, sync: true }, "boot-b")).toEqual({
      recovering: false,
      reason: "synced",
    });
    expect(decideStart({ ...crashed, cleanStop: true }, "boot-b")).toEqual({
      recovering: false,
      reason: "clean",
    });
  });

  it("resumes a recovery the last run did not finish, however it ended", () => {
    const interrupted = { ...crashed, sync: true, cleanStop: true, recovering: true };
    expect(decideStart(interrupted, "boot-a")).toEqual({ recovering: true, reason: "resumed" });
  });

  it("starts serving on a data dir without a record (new, or written by an older version)", () => {
    expect(decideStart(undefined, "boot-a")).toEqual({ recovering: false, reason: "first-start" });
  });
});

describe("the run record file", () => {
  it("round-trips through its JSON", () => {
    expect(parseRunRecord(JSON.parse(encodeRunRecord(crashed)))).toEqual(crashed);
  });

  it("is not a record with another format, a missing field or a wrong type", () => {
    const json = JSON.parse(encodeRunRecord(crashed)) as Record<string, unknown>;
    expect(parseRunRecord({ ...json, format: 2 })).toBeUndefined();
    expect(parseRunRecord({ ...json, sync: "off" })).toBeUndefined();
    expect(parseRunRecord({ ...json, bootId: "" })).toBeUndefined();
    expect(parseRunRecord([])).toBeUndefined();
    expect(parseRunRecord(null)).toBeUndefined();
  });
});
