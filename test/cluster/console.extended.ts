// The web console (issue 20 §1) in a real browser: Debian's chromium driven by playwright-core
// against three real nodes (rf 2, so a key's replicas are two of the three). The page loads from a
// node and shows the three members; a key written through the API is shown with the replicas that
// hold it; a repair started from the page runs to the end on it; a killed node is shown down within
// 10 s. Screenshots go to test-artifacts/console/ (docs/console.png is one of them). Needs the
// `chromium` Debian package (.ci/run installs it).

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyReplicasBody } from "../../src/api/cluster-routes.js";
import {
  closeKvPools,
  inParallel,
  kv,
  localRecord,
  nodeAt,
  startThreeNodes,
} from "../support/kv.js";
import { REPO_ROOT, useProcessCluster, type ClusterNode } from "../support/process-cluster.js";

const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const ARTIFACTS = path.join(REPO_ROOT, "test-artifacts", "console");
/** What the issue asks: a killed node is shown down within this. */
const DOWN_SHOWN_WITHIN_MS = 10_000;
/** A repair of a few thousand keys on three nodes ends well within this. */
const REPAIR_SHOWN_DONE_WITHIN_MS = 20_000;
const KEYS_WRITTEN = 1_000;

function chromiumPath(): string {
  const found = CHROMIUM_PATHS.find((candidate) => existsSync(candidate));
  if (found === undefined)
    throw new Error(
      "this test needs chromium (apt-get install chromium); none of " + CHROMIUM_PATHS.join(", "),
    );
  return found;
}

const cluster = useProcessCluster("console");
let nodes: ClusterNode[] = [];
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  [nodes, browser] = await Promise.all([
    startThreeNodes(cluster, ["--replication-factor", "2"]),
    // Headless, and as root (CI) without the setuid sandbox, which needs a user namespace.
    chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] }),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await closeKvPools();
});

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe("the web console", () => {
  it("loads from a node at /ui and shows the three members, with no script error", async () => {
    const node1 = nodeAt(nodes, 0);
    await page.goto(`${node1.url}/ui`);
    expect(new URL(page.url()).pathname).toBe("/ui/");
    await page.locator('.summary[data-members="3"][data-down="0"]').waitFor();
    expect(await page.locator("tr[data-member]").count()).toBe(3);
    // The ring is drawn: one arc per range of the ring.
    await page.locator("svg.ring path[data-owner]").first().waitFor({ state: "attached" });
    expect(pageErrors).toEqual([]);
  });

  it("shows the replicas of a written key, the two nodes that hold it", async () => {
    const node1 = nodeAt(nodes, 0);
    const key = "console-key";
    expect((await kv(node1.url, "PUT", key, { body: "v", query: "w=all" })).status).toBe(204);
    // Load for the charts, and data for the repair below.
    await inParallel(
      Array.from({ length: KEYS_WRITTEN }, (_, i) => `load-${i}`),
      16,
      async (k) => {
        expect((await kv(node1.url, "PUT", k, { body: `value-${k}` })).status).toBe(204);
      },
    );
    await page.fill("input[name=key]", key);
    await page.click("form.lookup button[type=submit]");
    await page.locator(`.replicas[data-key="${key}"]`).waitFor();
    const tags = await page.locator(".replicas .replica-tag").all();
    const shown = await Promise.all(tags.map((tag) => tag.getAttribute("data-replica")));
    expect(shown).toHaveLength(2);
    // The replicas shown are the nodes holding the key, and only they.
    for (const node of nodes) {
      const held = (await localRecord(node, key)) !== undefined;
      expect(shown.includes(node.id), `${node.id} holds ${key}: ${held}`).toBe(held);
    }
    // Another node's view agrees, and the ring draws one highlighted arc per replica.
    const elsewhere = await cluster.getJson<KeyReplicasBody>(
      "node3",
      `/cluster/replicas?key=${key}`,
    );
    expect([...elsewhere.replicas].sort()).toEqual([...shown].sort());
    expect(await page.locator("svg.ring path.replica-arc").count()).toBe(2);
    await screenshot("replicas");
  });

  it("starts a repair behind a confirmation and shows its progress to the end", async () => {
    await page.click('button[data-action="repair"]');
    await page.locator('[role="dialog"]').waitFor();
    await page.click('[data-confirm="yes"]');
    const row = page.locator('tr[data-kind="repair"]');
    await row.waitFor();
    await page
      .locator('tr[data-kind="repair"][data-state="done"]')
      .waitFor({ timeout: REPAIR_SHOWN_DONE_WITHIN_MS });
    expect(await row.textContent()).toMatch(/100 %/);
    expect(await page.locator(".outcome").textContent()).toMatch(/^repair \S+ started$/);
    await screenshot("repair");
  });

  it("repairs one range the node replicates, picked from its ranges, to the end", async () => {
    const select = page.locator(".repair-range select");
    const range = await select.inputValue();
    expect(range).toMatch(/^[0-9a-f]{16}:[0-9a-f]{16}$/);
    await page.click('button[data-action="repair-range"]');
    await page.locator('[role="dialog"]').waitFor();
    await page.click('[data-confirm="yes"]');
    const row = page.locator(`tr[data-kind="repair"]:has-text("of range ${range}")`);
    await row.waitFor();
    await page
      .locator(`tr[data-kind="repair"][data-state="done"]:has-text("of range ${range}")`)
      .waitFor({ timeout: REPAIR_SHOWN_DONE_WITHIN_MS });
    expect(await page.locator(".outcome").textContent()).toBe(
      `repair ${await row.getAttribute("data-repair")} of range ${range} started`,
    );
  });

  it("shows a killed node as down within 10 s", async () => {
    const startedMs = Date.now();
    await cluster.kill("node3");
    await page
      .locator('tr[data-member="node3"][data-live="false"]')
      .waitFor({ timeout: DOWN_SHOWN_WITHIN_MS });
    const shownMs = Date.now() - startedMs;
    console.log(`console: node3 shown down ${shownMs} ms after SIGKILL`);
    expect(shownMs).toBeLessThan(DOWN_SHOWN_WITHIN_MS);
    await page.locator('.summary[data-down="1"]').waitFor();
    // The charts have had a few scrapes by now.
    await screenshot("down");
    expect(pageErrors).toEqual([]);
  });
});
