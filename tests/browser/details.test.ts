// Browser tests in real Chromium for the on-call view: a failing rollout and its why, history, live details, the completion message, dark mode, keyboard-only restart heard through the accessibility tree.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { applyObjects, type AppProcess, kubectl, ROOT, startApp, waitRollout } from "../support/harness.ts";
import { kwokDeployment } from "../support/workloads.ts";

const NS = "ui-details";
const LOCK_NS = "k8s-restart-app-ui-details";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SERVICES = [
  { kind: "Deployment", name: "site", namespace: NS },
  { kind: "Deployment", name: "stuck", namespace: NS },
  // Never created: a long hyphenated name, for wrapping.
  { kind: "StatefulSet", name: "payments-reconciliation-worker-europe-west-primary-shard-0001", namespace: "longnames" },
];

/** Two kwok-pinned replicas that fail fast (15 s progress deadline) once their pods cannot be placed. */
const deployment = (name: string, replicas: number) =>
  kwokDeployment(NS, name, { spec: { replicas, progressDeadlineSeconds: 15 }, pod: { terminationGracePeriodSeconds: 2 } });

let browser: Browser;
let app: AppProcess;
let page: Page;
const sockets: { url: string; closed: boolean }[] = [];

beforeAll(async () => {
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true"]);
  await kubectl(["create", "namespace", NS]);
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await applyObjects([deployment("site", 2), deployment("stuck", 2)]);
  await waitRollout("Deployment", NS, "site");
  await waitRollout("Deployment", NS, "stuck");
  app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: LOCK_NS, RATE_LIMIT_PER_MINUTE: "0", CLUSTER_NAME: "staging-eu" } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  page.on("websocket", (ws) => {
    const s = { url: ws.url(), closed: false };
    sockets.push(s);
    ws.on("close", () => (s.closed = true));
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]);
});

const card = (name: string) => page.locator(`#svc-deployment_${NS}_${name}`);

/** Restarts `site` and accepts the confirmation; resolves once the card says how it ended. */
async function restartSite(press: () => Promise<void>): Promise<string> {
  const state = `#${await card("site").getAttribute("id")} .state`;
  const before = await page.locator(state).getAttribute("data-outcome");
  await Bun.sleep(1100); // restartedAt has whole seconds: a restart in the same second as the last one changes nothing
  page.once("dialog", (d) => void d.accept());
  await press();
  // data-outcome names the restart whose end the card states: wait for this restart's.
  await page.waitForFunction(([sel, old]) => !!document.querySelector(sel)?.getAttribute("data-outcome") && document.querySelector(sel)?.getAttribute("data-outcome") !== old, [state, before] as const, {
    timeout: 60_000,
  });
  return (await card("site").locator(".said").textContent()) ?? "";
}

/** WCAG contrast of an element's text against the first opaque background behind it. */
function contrastOf(sel: string) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel) as HTMLElement;
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    let bg: number[] = [255, 255, 255];
    for (let e: HTMLElement | null = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3]! > 0.9)) {
        bg = c.slice(0, 3);
        break;
      }
    }
    const fg = rgb(getComputedStyle(el).color);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return { ratio: (a! + 0.05) / (b! + 0.05), opacity: getComputedStyle(el).opacity };
  }, sel);
}

describe("on-call view in Chromium", () => {
  test("keyboard only: Tab to Restart, Enter, confirm; the start and the completion are announced through the accessibility tree", async () => {
    await page.goto(`${app.url}/?q=${encodeURIComponent(`${NS}/site`)}`);
    await page.waitForSelector('body[data-conn="live"]', { timeout: 15_000 });
    expect(await page.title()).toBe("Restart services · staging-eu · k8s-restart-app");
    expect(await page.locator(".svc:visible").count()).toBe(1);
    const name = `Restart Deployment ${NS}/site`;
    for (let i = 0; i < 20; i++) {
      if ((await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))) === name) break;
      await page.keyboard.press("Tab");
    }
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(name);
    // The focus ring is visible and stands out from the card (≥ 3:1).
    const ring = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!);
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const [a, b] = [lum(rgb(s.outlineColor)), lum(rgb(getComputedStyle(document.activeElement!.closest(".svc")!).backgroundColor))].sort((x, y) => y - x);
      return { width: parseFloat(s.outlineWidth), style: s.outlineStyle, ratio: (a! + 0.05) / (b! + 0.05) };
    });
    expect(ring.width).toBeGreaterThanOrEqual(2);
    expect(ring.style).toBe("solid");
    expect(ring.ratio).toBeGreaterThanOrEqual(3);
    // Everything the card's live regions say, as it is said (a fast rollout replaces "started" within a second).
    await page.evaluate((sel) => {
      const heard: string[] = [];
      (window as unknown as { __heard: string[] }).__heard = heard;
      const root = document.querySelector(sel)!;
      const listen = () => root.querySelectorAll('[role="status"], [aria-live]').forEach((r) => heard.push((r.textContent ?? "").trim()));
      new MutationObserver(listen).observe(root, { subtree: true, childList: true, characterData: true });
    }, `#${await card("site").getAttribute("id")}`);
    const said = await restartSite(() => page.keyboard.press("Enter"));
    const heard = await page.evaluate(() => (window as unknown as { __heard: string[] }).__heard);
    expect(heard.some((t) => t.includes(`Restart of Deployment ${NS}/site started`))).toBe(true);
    expect(said).toMatch(new RegExp(`^Restart of Deployment ${NS}/site completed in \\d+ s$`));
    const tree = await card("site").ariaSnapshot();
    expect(tree).toContain(`button "Restart Deployment ${NS}/site"`);
    expect(tree).toMatch(new RegExp(`status: Restart of Deployment ${NS}/site completed in \\d+ s`));
    // The "started" message gave way to the completion: it no longer says "started".
    expect(await card("site").locator(".flash-ok").count()).toBe(0);
    expect(await card("site").locator(".said").isVisible()).toBe(true);
  }, 90_000);

  test("history after two restarts, in the details panel opened in place", async () => {
    await restartSite(() => card("site").locator("button.restart").click());
    await card("site").locator("button.details-toggle").click();
    const rows = card("site").locator("table.history tbody tr");
    await rows.nth(1).waitFor({ timeout: 10_000 });
    const first = await rows.nth(0).locator("td").allTextContents();
    const second = await rows.nth(1).locator("td").allTextContents();
    expect(first[2]).toBe("completed");
    expect(second[2]).toBe("completed");
    expect(first[3]).toMatch(/^\d+ s$/);
    expect(await card("site").locator("button.details-toggle").getAttribute("aria-expanded")).toBe("true");
  }, 90_000);

  test("details stay live while open, and closing them closes their socket", async () => {
    const pods = card("site").locator("table.pods tbody tr");
    await kubectl(["-n", NS, "scale", "deployment", "site", "--replicas=3"]);
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 3, `#${await card("site").getAttribute("id")} table.pods tbody tr`, { timeout: 20_000 });
    expect(await pods.count()).toBe(3);
    const detailSocket = sockets.find((s) => s.url.endsWith(`/ui/service/Deployment/${NS}/site/details/live`));
    expect(detailSocket?.closed).toBe(false);
    await card("site").locator("button.details-toggle").click();
    expect(await card("site").locator(".details").count()).toBe(0);
    await page.waitForFunction(() => document.body.dataset.conn === "live");
    await Bun.sleep(300);
    expect(detailSocket?.closed).toBe(true);
    await kubectl(["-n", NS, "scale", "deployment", "site", "--replicas=2"]);
  }, 60_000);

  test("a failing rollout says why, never a bare ready count; problems only shows it", async () => {
    await page.fill("#filter", NS);
    await kubectl(["-n", NS, "patch", "deployment", "stuck", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"no-such-label":"anywhere"}}}}}']);
    const why = card("stuck").locator(".why-line");
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute("data-rollout") === "failed", `#${await card("stuck").getAttribute("id")} .state`, { timeout: 60_000 });
    expect(await why.innerText()).toMatch(/^New revision failed: 1 new pod Pending: 0\/\d+ nodes are available: .*didn't match Pod's node affinity\/selector/);
    expect(await card("stuck").locator(".replicas").innerText()).toMatch(/Updated 1\/2\s+Ready 2\/2/);
    expect(await card("stuck").locator('[role="progressbar"], progress').count()).toBe(1);
    expect(await card("stuck").locator("progress").getAttribute("aria-label")).toBe("Updated pods: 1 of 2");
    await page.check("#problems-only");
    expect(await page.locator(".svc:visible h3.name").allTextContents()).toEqual(["stuck"]);
    expect(page.url()).toContain("problems-only=1");
    await page.fill("#filter", "nothing-like-this");
    expect(await page.locator("#no-match").innerText()).toContain("No service matches");
    await page.fill("#filter", NS);
    await page.uncheck("#problems-only");
    // Compact: one line per card, kept in the URL; a namespace folds away.
    const tall = (await card("site").boundingBox())!.height;
    await page.check("#compact");
    expect((await card("site").boundingBox())!.height).toBeLessThan(tall / 2);
    expect(page.url()).toContain("compact=1");
    await page.uncheck("#compact");
    await page.locator(`section.group:has(#ns-${NS}) summary`).click();
    expect(await card("site").isVisible()).toBe(false);
    await page.locator(`section.group:has(#ns-${NS}) summary`).click();
    expect(await card("site").isVisible()).toBe(true);
    if (process.env.SCREENSHOT) await page.screenshot({ path: join(ROOT, "docs/ui-oncall.png"), fullPage: true });
  }, 90_000);

  test("no silent click while reconnecting: Restart answers why nothing was sent", async () => {
    const port = new URL(app.url).port;
    await app.stop("SIGTERM");
    await page.waitForSelector('body[data-conn="reconnecting"]', { timeout: 10_000 });
    let dialogs = 0;
    page.on("dialog", (d) => (dialogs++, void d.dismiss()));
    await card("site").locator("button.restart").click();
    expect(await card("site").locator(".flash-warn").innerText()).toContain("Not sent: the page is reconnecting");
    expect(dialogs).toBe(0);
    // Not live is said by the header, not by fading the cards: their text keeps its contrast.
    const c = await contrastOf(`#svc-deployment_${NS}_site .message`);
    expect(c.opacity).toBe("1");
    expect(c.ratio).toBeGreaterThanOrEqual(4.5);
    app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: LOCK_NS, LISTEN_ADDRESS: `127.0.0.1:${port}`, CLUSTER_NAME: "staging-eu" } });
    await page.waitForSelector('body[data-conn="live"]', { timeout: 30_000 });
  }, 60_000);

  test("a long name wraps after its hyphens, never inside a word", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${app.url}/?q=longnames`);
    const breaks = await page.evaluate(() => {
      const a = document.querySelector(".svc:not([hidden]) h3.name a")!;
      const node = a.firstChild as Text;
      const out: string[] = [];
      let top = -1;
      for (let i = 0; i < node.length; i++) {
        const r = document.createRange();
        r.setStart(node, i);
        r.setEnd(node, i + 1);
        const t = Math.round(r.getBoundingClientRect().top);
        if (top >= 0 && t > top) out.push(node.data[i - 1]!);
        top = t;
      }
      return out;
    });
    expect(breaks.length).toBeGreaterThan(0);
    expect(breaks.every((c) => c === "-")).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 30_000);

  test("dark mode follows the system, and text keeps ≥ 4.5:1 contrast in both schemes", async () => {
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const dark = (bg.match(/\d+/g) ?? []).slice(0, 3).every((v) => Number(v) < 60);
      expect(dark).toBe(scheme === "dark");
      for (const sel of [".svc .message", ".svc .replicas", ".svc .pill", ".svc .last", ".why-line", ".ns-label", ".svc .kind"]) {
        const c = await contrastOf(sel);
        expect(c.ratio, `${scheme} ${sel}`).toBeGreaterThanOrEqual(4.5);
        expect(c.opacity).toBe("1");
      }
    }
    await page.goto(`${app.url}/service/Deployment/${NS}/stuck`);
    await page.locator("table.pods").waitFor();
    expect(await page.title()).toBe(`Deployment ${NS}/stuck · staging-eu · k8s-restart-app`);
    if (process.env.SCREENSHOT) await page.screenshot({ path: join(ROOT, "docs/ui-service-dark.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  }, 60_000);
});
