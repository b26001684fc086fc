// e2e (issue 14): listen first — the app answers (page, list, /healthz) while the API server has not answered anything yet; /readyz and restarts wait for the self-check and the first sync.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { applyObjects, kubectl, openStatus, restartedAt, startApp, waitFor } from "../support/harness.ts";
import { kubeconfigVia, relay } from "../support/relay.ts";
import { deploymentDoc, freshNamespace } from "./scale-support.ts";

const NS = "k8s-restart-app-listen-first";
const service = { kind: "Deployment", namespace: NS, name: "web" };
const restartPath = `/api/v1/service/Deployment/${NS}/web/restart`;
const checkOutcome = (msg: string) => msg === "permission self-check done" || msg === "permission self-check failed; using Leases and retrying in the background";

beforeAll(async () => {
  await freshNamespace(NS);
  await applyObjects([deploymentDoc(NS, "web")]);
  await kubectl(["-n", NS, "rollout", "status", "deployment/web", "--timeout=60s"]);
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"], { allowFail: true });
});

test("while the API server holds every connection: page, list and /healthz answer; /readyz 503, restart 503 unavailable with Retry-After; once it answers: ready, status pushed, restart works", async () => {
  // Connections to the API server are accepted and held: the self-check and the lists wait.
  const r = relay(0, { held: true });
  const app = await startApp({ kubeconfig: kubeconfigVia(r.port), services: [service], env: { LOCK_NAMESPACE: NS }, waitReady: false });
  try {
    await waitFor(() => r.accepted() > 0, 5_000, "the app's first connection to the API server");
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    // The order: the server answered before the self-check had any outcome (before, it waited up to 10 s for one).
    expect(app.entries().filter((e) => checkOutcome(e.msg)).map((e) => e.msg)).toEqual([]);

    const list = await fetch(`${app.url}/api/v1/service`);
    expect(list.status).toBe(200);
    expect((await list.json()).services).toEqual([service]);
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`${NS}`);
    const json = await openStatus(`${app.wsUrl}/api/v1/service/status`);

    const notReady = await fetch(`${app.url}/readyz?format=json`);
    expect(notReady.status).toBe(503);
    const reasons: string[] = (await notReady.json()).reasons;
    expect(reasons).toContain("watch caches have not synced yet");
    expect(reasons.some((x) => x.startsWith("permission self-check"))).toBe(true);

    const before = await restartedAt("Deployment", NS, "web");
    const refused = await fetch(`${app.url}${restartPath}`, { method: "POST" });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await refused.json();
    expect(body.error).toBe("unavailable");
    expect(typeof body.message).toBe("string");
    expect(typeof body.request_id).toBe("string");
    expect(await restartedAt("Deployment", NS, "web")).toBe(before);
    // Still nothing from the API server: everything above was answered without it.
    expect(app.entries().filter((e) => checkOutcome(e.msg)).map((e) => e.msg)).toEqual([]);
    expect(json.messages).toEqual([]);

    r.release();
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, 30_000, "ready once the API server answers");
    expect(app.entries().some((e) => e.msg === "permission self-check done")).toBe(true);
    // The stream opened before the sync gets the real state pushed.
    const pushed = JSON.parse(await json.until(() => true, 10_000, "the status pushed after the sync"));
    expect(pushed.kind_namespace_name).toMatchObject(service);
    expect(pushed.status.desired).toBe(1);

    const ok = await fetch(`${app.url}${restartPath}`, { method: "POST" });
    expect(ok.status).toBe(200);
    expect((await ok.json()).status).toBe("restarting");
    expect(await restartedAt("Deployment", NS, "web")).not.toBe(before);
    json.close();
  } finally {
    r.cut();
    await app.stop();
  }
}, 120_000);
