// Browser test in real Chromium: the page, a confirmed restart followed live to completion, reconnect after an app restart.
//
// SCREENSHOT=<path> (relative to the repository) saves the page after the restart there:
// `make screenshot` regenerates docs/ui.png that way; a plain run writes no file.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { type AppProcess, kubectl, ROOT, SAMPLE_SERVICES as SERVICES, startApp, waitRollout } from "../support/harness.ts";

const LOCK_NS = "k8s-restart-app-ui";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let browser: Browser;
let app: AppProcess;
/** Each test's own tab, and the console errors it logged. */
let page: Page;
let consoleErrors: string[] = [];

beforeAll(async () => {
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await kubectl(["-n", LOCK_NS, "delete", "lease", "--all"]);
  await waitRollout("Deployment", "shop", "web");
  app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: LOCK_NS, RATE_LIMIT_PER_MINUTE: "0" } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    // playwright gives each launch a fresh temporary profile (user-data-dir) of its own.
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  consoleErrors = [];
  const errors = consoleErrors;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
});

afterEach(async () => {
  await page?.close();
});

/** Opens the control page of `url` in this test's tab and waits until its websocket is live. */
async function openPage(url = app.url): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-conn="live"]', { timeout: 15_000 });
}

/** Console errors other than failed websocket (re)connects, which an app restart causes on purpose. */
const unexpectedErrors = () => consoleErrors.filter((e) => !/WebSocket|htmx:ws:error/.test(e));

const card = (ns: string, name: string, kind = "Deployment") => page.locator(`#svc-${kind.toLowerCase()}_${ns}_${name}`);

describe("control page in Chromium", () => {
  test("loads, goes live, and shows every service grouped by namespace", async () => {
    await waitRollout("Deployment", "shop", "web");
    await openPage();
    expect(await page.locator("section.group h2").allTextContents()).toEqual(["namespace billing", "namespace shop"]);
    const web = card("shop", "web");
    await web.locator(".pill-complete").waitFor({ timeout: 15_000 });
    expect(await web.locator(".replicas").innerText()).toContain("3/3");
    expect(await web.locator(".phases").innerText()).toContain("Running 3");
    const frozen = card("shop", "frozen");
    expect(await frozen.locator("button.restart").isDisabled()).toBe(true);
    expect(await frozen.locator(".why").innerText()).toContain("Paused");
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  test("restart with confirmation: button disabled while rolling out, progress pushed live, then ready again", async () => {
    await waitRollout("Deployment", "shop", "web");
    await openPage();
    const web = card("shop", "web");
    await web.locator('.state[data-locked="false"][data-rollout="complete"]').waitFor({ timeout: 60_000 });
    const button = web.locator("button.restart");
    expect(await button.isEnabled()).toBe(true);
    const before = await web.locator(".last time").innerText();
    // Every state the card shows is recorded as it is swapped in: a fast rollout can pass through
    // "locked" and "rolling out" quicker than any polling would notice.
    await page.evaluate((sel) => {
      const root = document.querySelector(sel)!;
      const seen: { locked?: string; rollout?: string; disabled: boolean }[] = [];
      (window as unknown as { __seen: typeof seen }).__seen = seen;
      const record = () => {
        const st = root.querySelector<HTMLElement>(".state");
        if (st) seen.push({ locked: st.dataset.locked, rollout: st.dataset.rollout, disabled: !!st.querySelector<HTMLButtonElement>("button.restart")?.disabled });
      };
      new MutationObserver(record).observe(root, { subtree: true, childList: true, attributes: true });
    }, "#svc-deployment_shop_web");
    let dialogText = "";
    page.once("dialog", (d) => {
      dialogText = d.message();
      void d.accept();
    });
    // The POST's own answer (the "started" flash): on kwok the rollout can finish before it is
    // swapped in, and then the page drops it at once, so it is read from the response.
    const answered = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/api/v1/service/Deployment/shop/web/restart"), { timeout: 10_000 });
    await button.click();
    const res = await answered;
    expect(res.status()).toBe(200);
    expect(await res.text()).toContain("Restart of Deployment shop/web started");
    expect(dialogText).toContain("Restart Deployment shop/web?");
    // The end state: complete, unlocked, a new last-restart time, the button usable again.
    await page.waitForFunction(
      ([sel, old]) => {
        const st = document.querySelector(`${sel} .state`) as HTMLElement | null;
        return st?.dataset.locked === "false" && st.dataset.rollout === "complete" && st.querySelector(".last time")?.textContent !== old;
      },
      ["#svc-deployment_shop_web", before] as const,
      { timeout: 60_000 },
    );
    expect(await button.isEnabled()).toBe(true);
    // On the way there the push disabled the button while locked, and showed the rollout in progress.
    const seen = await page.evaluate(() => (window as unknown as { __seen: { locked?: string; rollout?: string; disabled: boolean }[] }).__seen);
    expect(seen.some((x) => x.locked === "true" && x.disabled)).toBe(true);
    expect(seen.some((x) => x.rollout === "progressing")).toBe(true);
    // "started" gave way to how it ended, in the card's live region (which pushes never replace).
    await web.locator(".said", { hasText: "Restart of Deployment shop/web completed in" }).waitFor({ timeout: 10_000 });
    expect(await web.locator(".flash-ok").count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    if (process.env.SCREENSHOT) await page.screenshot({ path: resolve(ROOT, process.env.SCREENSHOT), fullPage: true });
  }, 90_000);

  test("cancelling the confirmation sends nothing", async () => {
    await waitRollout("Deployment", "billing", "worker");
    await openPage();
    const worker = card("billing", "worker");
    const posts: string[] = [];
    page.on("request", (r) => void (r.method() === "POST" && posts.push(r.url())));
    page.once("dialog", (d) => void d.dismiss());
    await worker.locator("button.restart").click();
    // Not a wait for something: the test is that nothing is sent, so give a request the time to show up.
    await Bun.sleep(500);
    expect(posts).toEqual([]);
    expect(await worker.locator(".flash").count()).toBe(0);
    expect(await worker.locator('.state[data-locked="false"]').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
  }, 30_000);

  test("reconnects after the app restarts and shows live data again", async () => {
    // An app of its own: stopping it leaves the suite's app alone.
    const own = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: LOCK_NS } });
    await openPage(own.url);
    const port = new URL(own.url).port;
    await own.stop("SIGTERM");
    await page.waitForSelector('body[data-conn="reconnecting"]', { timeout: 10_000 });
    const again = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: LOCK_NS, LISTEN_ADDRESS: `127.0.0.1:${port}` } });
    await page.waitForSelector('body[data-conn="live"]', { timeout: 30_000 });
    await card("shop", "web").locator(".pill-complete").waitFor({ timeout: 10_000 });
    expect(unexpectedErrors()).toEqual([]);
    await again.stop();
  }, 60_000);

  test("the filter box narrows the list, hides namespaces left empty, and survives live pushes", async () => {
    await openPage();
    const visible = async () => (await page.locator(".svc:visible h3.name").allTextContents()).sort();
    await page.fill("#filter", "stateful");
    expect(await visible()).toEqual(["db", "ledger"]);
    await page.fill("#filter", "shop we");
    expect(await visible()).toEqual(["web"]);
    expect(await page.locator("section.group:visible h2").allTextContents()).toEqual(["namespace shop"]);
    // A status push for a hidden card must not bring it back.
    await kubectl(["-n", "billing", "annotate", "deployment", "worker", `example.com/ui-filter=${Date.now()}`, "--overwrite"]);
    await kubectl(["-n", "billing", "scale", "deployment", "worker", "--replicas=3"]);
    await card("billing", "worker").locator('.replicas:has-text("/3")').waitFor({ state: "attached", timeout: 10_000 });
    expect(await visible()).toEqual(["web"]);
    await kubectl(["-n", "billing", "scale", "deployment", "worker", "--replicas=2"]);
    await page.fill("#filter", "");
    expect((await visible()).length).toBe(SERVICES.length);
    expect(consoleErrors).toEqual([]);
  }, 30_000);

  test("works on a phone-sized screen and the page runs under the CSP without errors", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await openPage();
    await card("shop", "web").locator(".pill-complete").waitFor({ timeout: 15_000 });
    const box = await card("shop", "web").boundingBox();
    expect(box!.width).toBeLessThanOrEqual(390);
    expect(consoleErrors).toEqual([]);
  }, 30_000);
});
