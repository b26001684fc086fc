// Browser test in real Chromium: cards appear and disappear on an open page as the services file is reloaded, and the filter stays applied.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { type AppProcess, startApp, tempDir } from "../support/harness.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB = { kind: "Deployment", name: "web", namespace: "shop" };
const WORKER = { kind: "Deployment", name: "worker", namespace: "billing" };
const dir = tempDir("k8s-restart-app-ui-reload-");
const path = join(dir, "config.yaml");
/** Replaces the file in one step, as an editor or kubelet does. */
const publish = (services: object[]) => {
  writeFileSync(`${path}.tmp`, `services:\n${services.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`);
  renameSync(`${path}.tmp`, path);
};

let browser: Browser;
let app: AppProcess;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  publish([WEB]);
  app = await startApp({ env: { CONFIG_FILE_PATH: path } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => void (m.type() === "error" && consoleErrors.push(m.text())));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("services added and removed at runtime, on an open page", () => {
  test("a reload adds a card (with a working button) and removes one; the filter stays applied", async () => {
    await page.goto(app.url);
    await page.waitForSelector('body[data-conn="live"]', { timeout: 15_000 });
    await page.locator("#svc-deployment_shop_web .pill-complete").waitFor({ timeout: 15_000 });
    await page.fill("#filter", "worker");
    expect(await page.locator("#svc-deployment_shop_web").isHidden()).toBe(true);

    publish([WEB, WORKER]);
    const worker = page.locator("#svc-deployment_billing_worker");
    await worker.locator(".pill-complete").waitFor({ timeout: 5000 });
    expect(await page.locator("section.group h2").allTextContents()).toEqual(["namespace billing", "namespace shop"]);
    expect(await worker.isVisible()).toBe(true);
    expect(await page.locator("#svc-deployment_shop_web").isHidden()).toBe(true); // filtered out still
    expect(await worker.locator("button.restart").isEnabled()).toBe(true);
    // The new card's live updates arrive like any other: its state element is swapped by id.
    expect(await worker.locator(".state").getAttribute("id")).toBe("state-deployment_billing_worker");

    await page.fill("#filter", "");
    publish([WORKER]);
    await page.locator("#svc-deployment_shop_web").waitFor({ state: "detached", timeout: 5000 });
    expect(await page.locator("section.group h2").allTextContents()).toEqual(["namespace billing"]);
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
