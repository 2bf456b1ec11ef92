// A node that may have lost acknowledged writes (an unclean stop with --sync off, then a reboot)
// does not read its own copy until it has repaired its ranges (node/crash-recovery.ts), built with
// buildNode on a real data dir; the boot id is the port the kernel's would be.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltNode } from "../../../src/node/build-node.js";
import { buildSoloNode } from "../../support/solo-node.js";
import { RUN_RECORD_FILE } from "../../../src/node/run-record.js";

const WAIT_MS = 10_000;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "grapevine-crash-recovery-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function start(bootId: string): Promise<BuiltNode> {
  const node = await buildSoloNode(root, { sync: "off" }, { bootId: () => bootId });
  node.begin();
  return node;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("crash recovery", () => {
  it("after a process crash on the same boot serves at once; after a reboot repairs first; after a clean stop trusts its disk", async () => {
    const first = await start("boot-1");
    expect(first.recovery.decision.reason).toBe("first-start");
    const put = await first.app.inject({
      method: "PUT",
      url: "/kv/k",
      headers: { "content-type": "text/plain" },
      payload: "v",
    });
    expect(put.statusCode).toBe(204);
    // close() is what a process that never stopped leaves: no clean stop recorded.
    await first.close();

    const sameBoot = await start("boot-1");
    expect(sameBoot.recovery.decision).toEqual({ recovering: false, reason: "same-boot" });
    await sameBoot.close();

    const rebooted = await start("boot-2");
    expect(rebooted.recovery.decision).toEqual({ recovering: true, reason: "lost-page-cache" });
    const record = JSON.parse(await readFile(path.join(root, "solo", RUN_RECORD_FILE), "utf8")) as {
      recovering: boolean;
    };
    expect(record.recovering).toBe(true);
    // Alone (rf 1), the repair has no peer to ask: it ends at once, on the tick after the ring
    // settles.
    await until(() => !rebooted.recovery.recovering());
    const get = await rebooted.app.inject({ method: "GET", url: "/kv/k" });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe("v");
    await rebooted.stop();

    const afterClean = await start("boot-3");
    expect(afterClean.recovery.decision).toEqual({ recovering: false, reason: "clean" });
    await afterClean.stop();
  });

  it("repairs before serving reads when run.json is garbage: nothing says the last run was clean", async () => {
    await writeFile(path.join(root, "solo", RUN_RECORD_FILE), "{not json");
    const garbled = await start("boot-6");
    expect(garbled.recovery.decision).toEqual({ recovering: true, reason: "resumed" });
    await until(() => !garbled.recovery.recovering());
    await garbled.stop();
    await writeFile(path.join(root, "solo", RUN_RECORD_FILE), JSON.stringify({ format: 99 }));
    const foreign = await start("boot-7");
    expect(foreign.recovery.decision).toEqual({ recovering: true, reason: "resumed" });
    await foreign.stop();
  });
});
