// Scenario page: the control page with 2,000 services in Chromium — first paint, time to live, filter and toggles, live pushes while busy.
//
// 2,000 configured services in bench-page, one app, one Chromium page. Only svc-0000 exists (one
// replica; the bench scales it to push changes): creating 2,000 Deployments takes the local
// controller-manager over half an hour (its API rate limit), and the page's cost is the same per
// card whatever the card says ("Not found" cards are full cards with the same markup). Numbers come from the
// browser's own clocks: Paint Timing (first-contentful-paint), performance.now() around the
// synchronous work of an input event plus the next animation frame (what a user waits for before
// the screen changes), and Long Tasks (> 50 ms main-thread blocks) while pushes arrive.
import { chromium } from "playwright-core";
import { applyAndWait, deleteNamespace, deployment, freshNamespace, observerClient, serviceList, startApp } from "../lib.ts";
import { summarize, type ScenarioResult } from "../stats.ts";

const NS = "bench-page";
const SERVICES = Number(process.env.PAGE_SERVICES ?? 2000);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TARGET_PAINT_MS = 1000;

/** ms for an input event's handlers plus the frame that shows the result, measured in the page. */
const timeInput = (id: string, value: string | boolean) =>
  `new Promise((resolve) => {
    const el = document.getElementById(${JSON.stringify(id)});
    const t0 = performance.now();
    if (typeof ${JSON.stringify(value)} === "boolean") el.checked = ${JSON.stringify(value)}; else el.value = ${JSON.stringify(value)};
    el.dispatchEvent(new Event("input", { bubbles: true }));
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0));
  })`;

export async function page(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(4, "0")}`);
  await freshNamespace(NS);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  try {
    await applyAndWait(NS, [deployment(NS, names[0]!, { replicas: 1 })]);
    app = await startApp({ services: serviceList(NS, names), lockNamespace: NS, env: { RATE_LIMIT_PER_MINUTE: "0" } });
    const paints: number[] = [];
    const lives: number[] = [];
    let htmlBytes = 0;
    for (let run = 0; run < 3; run++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      const res = await p.goto(app.url, { waitUntil: "load" });
      htmlBytes = (await res!.body()).length;
      await p.waitForSelector('body[data-conn="live"]', { timeout: 60_000 });
      const t = await p.evaluate(() => ({
        fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
        now: performance.now(),
      }));
      paints.push(t.fcp);
      lives.push(t.now);
      await ctx.close();
    }
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    await p.goto(app.url);
    await p.waitForSelector('body[data-conn="live"]', { timeout: 60_000 });
    await p.evaluate(() => {
      const w = window as unknown as { __long: number[] };
      w.__long = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => w.__long.push(e.duration))).observe({ type: "longtask", buffered: false });
    });
    const filter = [] as number[];
    for (const q of ["svc-01", "svc-019", "nothing-matches", ""]) filter.push((await p.evaluate(timeInput("filter", q))) as number);
    const problems = [(await p.evaluate(timeInput("problems-only", true))) as number, (await p.evaluate(timeInput("problems-only", false))) as number];
    const compact = [(await p.evaluate(timeInput("compact", true))) as number, (await p.evaluate(timeInput("compact", false))) as number];
    // Live pushes: scale svc-0000 up and down; stamp when its card shows the new desired count.
    const client = observerClient();
    const push: number[] = [];
    for (let i = 0; i < 6; i++) {
      const replicas = i % 2 === 0 ? 2 : 1;
      const t0 = Date.now();
      await client.request({ method: "PATCH", path: `/apis/apps/v1/namespaces/${NS}/deployments/svc-0000`, body: { spec: { replicas } }, contentType: "application/merge-patch+json" }, "scale");
      await p.waitForFunction((n) => document.querySelector(`#state-deployment_bench-page_svc-0000 .desired`)?.textContent === String(n), replicas, { timeout: 30_000, polling: 5 });
      push.push(Date.now() - t0);
      await Bun.sleep(300);
    }
    const longTasks = (await p.evaluate(() => (window as unknown as { __long: number[] }).__long)) as number[];
    await ctx.close();
    const med = (xs: number[]) => summarize(xs).p50;
    const f = (ms: number) => `${Math.round(ms)} ms`;
    return {
      rows: [
        { metric: `first contentful paint, ${SERVICES} services (median of 3)`, ours: f(med(paints)), original: "—", ratio: "—", note: `target < ${TARGET_PAINT_MS} ms; page ${Math.round(htmlBytes / 1024)} KiB; runs ${paints.map(f).join(", ")}` },
        { metric: "navigation → Live (full state swapped in), median of 3", ours: f(med(lives)), original: "—", ratio: "—", note: lives.map(f).join(", ") },
        { metric: "filter keystroke → next frame (max of 4)", ours: f(Math.max(...filter)), original: "—", ratio: "—", note: filter.map(f).join(", ") },
        { metric: "problems-only / compact toggle → next frame (max)", ours: f(Math.max(...problems, ...compact)), original: "—", ratio: "—", note: `problems ${problems.map(f).join(", ")}; compact ${compact.map(f).join(", ")}` },
        { metric: "scale → card updated in the page (median of 6)", ours: f(med(push)), original: "—", ratio: "—", note: `max ${f(Math.max(...push))}; long tasks during pushes: ${longTasks.length} (max ${f(Math.max(0, ...longTasks))})` },
      ],
      details: { services: SERVICES, paints, lives, htmlBytes, filter, problems, compact, push, longTasks },
    };
  } finally {
    await app?.stop();
    await browser.close();
    await deleteNamespace(NS);
  }
}
