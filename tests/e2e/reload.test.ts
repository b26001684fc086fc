// e2e: live reload of the services file — laid out as Kubernetes mounts a ConfigMap (a ..data symlink swapped to a new directory) — and SIGHUP; a valid file is applied, an invalid one refused while the old one keeps serving.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AppProcess, openStatus, startApp, tempDir, waitFor } from "../support/harness.ts";

const WEB = { kind: "Deployment", name: "web", namespace: "shop" };
const WORKER = { kind: "Deployment", name: "worker", namespace: "billing" };
const yaml = (services: object[]) => `services:\n${services.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`;
const parse = (m: string) => JSON.parse(m) as any;
const names = async (app: AppProcess) => ((await (await fetch(`${app.url}/api/v1/service`)).json()).services as any[]).map((s) => s.name).sort();

/** A ConfigMap volume as kubelet writes it: <dir>/config.yaml → ..data/config.yaml, ..data → ..<version>. */
function configMapVolume() {
  const dir = tempDir("k8s-restart-app-reload-");
  let n = 0;
  const publish = (text: string) => {
    const version = `..2026_v${++n}`;
    mkdirSync(join(dir, version));
    writeFileSync(join(dir, version, "config.yaml"), text);
    // kubelet's atomic writer: a new symlink under a temporary name, renamed over ..data.
    symlinkSync(version, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  };
  return { dir, path: join(dir, "config.yaml"), publish };
}

let app: AppProcess;
const vol = configMapVolume();

beforeAll(async () => {
  vol.publish(yaml([WEB]));
  symlinkSync("..data/config.yaml", vol.path);
  app = await startApp({ env: { CONFIG_FILE_PATH: vol.path, RATE_LIMIT_PER_MINUTE: "0" } });
}, 60_000);

describe("reload of a ConfigMap-mounted services file", () => {
  test("a service added by a ..data swap appears in the list, both streams and its watch within 5 s", async () => {
    const json = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    const html = await openStatus(`${app.wsUrl}/ui/status`);
    await json.until((m) => parse(m).kind_namespace_name.name === "web", 5000, "web at open");
    const t0 = Date.now();
    vol.publish(yaml([WEB, WORKER]));
    await waitFor(async () => (await names(app)).includes("worker"), 5000, "worker in the list");
    // Its status needs the new billing watches: it arrives complete, not "missing".
    const w = parse(await json.until((m) => parse(m).kind_namespace_name.name === "worker", 5000, "worker on the JSON stream"));
    expect(w.status.rollout).toBe("complete");
    await html.until((m) => m.includes('id="svc-deployment_billing_worker"') && m.includes('id="svc-deployment_shop_web"'), 5000, "the page's cards re-rendered with worker");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(app.entries().some((e) => e.msg === "config reloaded" && e.services === 2)).toBe(true);
    json.close();
    html.close();
  });

  test("a service removed: a removal on the JSON streams, gone from the list and the page", async () => {
    const json = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    const one = await openStatus(`${app.wsUrl}/api/v1/service/Deployment/shop/web/status`);
    const html = await openStatus(`${app.wsUrl}/ui/status`);
    await one.until((m) => parse(m).kind_namespace_name.name === "web", 5000, "web at open");
    vol.publish(yaml([WORKER]));
    const removal = parse(await json.until((m) => parse(m).removed === true, 5000, "a removal message"));
    expect(removal.kind_namespace_name).toEqual(WEB);
    expect(removal.status.rollout).toBe("removed");
    expect(parse(await one.until((m) => parse(m).removed === true, 5000, "removal on the service's own stream")).kind_namespace_name).toEqual(WEB);
    expect((await one.closedP).code).toBe(1000);
    await html.until((m) => m.includes('id="svc-deployment_billing_worker"') && !m.includes("svc-deployment_shop_web"), 5000, "the page without web");
    expect(await names(app)).toEqual(["worker"]);
    expect((await fetch(`${app.url}/api/v1/service/Deployment/shop/web/restart`, { method: "POST" })).status).toBe(404);
    json.close();
    html.close();
  });

  test("an invalid file is refused: the old config keeps serving; log, /readyz, metric and banner say why", async () => {
    vol.publish(yaml([WORKER, { kind: "Pod", name: "x", namespace: "shop" }]));
    await waitFor(() => app.entries().some((e) => e.msg?.startsWith("config reload refused")), 5000, "the refusal in the log");
    const line = app.entries().find((e) => e.msg?.startsWith("config reload refused"))!;
    expect(line.level).toBe("error");
    expect(line.path).toBe(vol.path);
    expect(line.error).toContain(`${vol.path}: services[1].kind: expected Deployment, StatefulSet or DaemonSet, got "Pod"`);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain(`- degraded: ${vol.path}: services[1].kind`);
    // Issue 10's readiness states: the refused reload is a "degraded" reason next to the others.
    const readyJson = await (await fetch(`${app.url}/readyz?format=json`)).json();
    expect(readyJson.status).toBe("degraded");
    expect(readyJson.reasons.some((r: string) => r.startsWith(`degraded: ${vol.path}: services[1].kind`))).toBe(true);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toContain("restart_app_config_reload_failures_total 1");
    const page = await (await fetch(`${app.url}/`, { headers: { Accept: "text/html" } })).text();
    expect(page).toMatch(/id="banner-config" class="banner banner-bad"[^>]*>The services file was not reloaded/);
    expect(await names(app)).toEqual(["worker"]);
    // Fixed: applied, and the banner clears.
    vol.publish(yaml([WORKER, WEB]));
    await waitFor(async () => (await names(app)).length === 2, 5000, "the fixed file applied");
    expect(await (await fetch(`${app.url}/readyz`)).text()).not.toContain("degraded");
    expect(await (await fetch(`${app.url}/`, { headers: { Accept: "text/html" } })).text()).toContain('id="banner-config" class="banner banner-none"');
  });

  test("SIGHUP reloads at once", async () => {
    const before = app.entries().length;
    app.proc.kill("SIGHUP");
    await waitFor(() => app.entries().slice(before).some((e) => e.msg === "config reloaded" && e.trigger === "SIGHUP"), 5000, "a reload by SIGHUP");
    expect(app.proc.exitCode).toBe(null);
  });
});
