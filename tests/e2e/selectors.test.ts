// e2e: selector entries — workloads join and leave the list, both websocket streams and the page as their labels change; a namespace "*" entry watches every namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { applyObjects, type AppProcess, kubectl, openStatus, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { deploymentDoc, freshNamespace } from "./scale-support.ts";

const NS = "k8s-restart-app-sel";
const NS2 = "k8s-restart-app-sel-2";
const parse = (m: string) => JSON.parse(m) as any;
const names = async (app: AppProcess) => ((await (await fetch(`${app.url}/api/v1/service`)).json()).services as any[]).map((s) => `${s.namespace}/${s.name}`).sort();
const label = (ns: string, name: string, ...kv: string[]) => kubectl(["-n", ns, "label", "deployment", name, "--overwrite", ...kv]);

let app: AppProcess;

beforeAll(async () => {
  // The app's restart locks live there (the harness's LOCK_NAMESPACE); the test must not rely on another file having made it.
  await kubectl(["create", "namespace", "k8s-restart-app-e2e"], { allowFail: true });
  await freshNamespace(NS);
  await freshNamespace(NS2);
  await applyObjects([
    deploymentDoc(NS, "sel-a", { tier: "web" }),
    deploymentDoc(NS, "sel-b", { tier: "db" }),
    deploymentDoc(NS, "sel-c", { tier: "web", team: "data" }),
    deploymentDoc(NS2, "sel-far", {}),
  ]);
  for (const n of ["sel-a", "sel-b", "sel-c"]) await waitRollout("Deployment", NS, n);
  const configYaml = `services:\n  - namespace: ${NS}\n    selector: "tier in (web), team!=data"\n    kinds: [Deployment]\n  - namespace: "*"\n    selector: "k8s-restart-app-e2e/wide=yes"\n`;
  app = await startApp({ configYaml, env: { RATE_LIMIT_PER_MINUTE: "0" } });
}, 180_000);

afterAll(async () => {
  for (const ns of [NS, NS2]) await kubectl(["delete", "namespace", ns, "--wait=false"], { allowFail: true });
});

describe("selector entries", () => {
  test("at start: exactly the matching workloads", async () => {
    expect(await names(app)).toEqual([`${NS}/sel-a`]);
  });

  test("a label added makes a workload appear in the list, the JSON stream and the page within 5 s; removing it makes it disappear", async () => {
    const json = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    const html = await openStatus(`${app.wsUrl}/ui/status`);
    await json.until((m) => parse(m).kind_namespace_name.name === "sel-a", 5000, "sel-a at open");
    const t0 = Date.now();
    await label(NS, "sel-b", "tier=web");
    const st = parse(await json.until((m) => parse(m).kind_namespace_name.name === "sel-b", 5000, "sel-b on the stream"));
    expect(st.status.rollout).toBe("complete");
    expect(await names(app)).toEqual([`${NS}/sel-a`, `${NS}/sel-b`]);
    await html.until((m) => m.includes('id="svc-deployment_k8s-restart-app-sel_sel-b"'), 5000, "sel-b's card on the page");
    expect(Date.now() - t0).toBeLessThan(5000);
    // Issue 10's snapshot and ?wait read the current set: the new service answers, settled at once.
    const snap = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/sel-b`);
    expect(snap.status).toBe(200);
    expect(await snap.json()).toMatchObject({ kind_namespace_name: { name: "sel-b" }, status: { rollout: "complete" } });
    const waited = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/sel-b?wait=10`);
    expect(waited.status).toBe(200);
    expect(await waited.json()).toMatchObject({ status: "complete", service: { kind: "Deployment", namespace: NS, name: "sel-b" } });

    await label(NS, "sel-b", "tier-");
    const removal = parse(await json.until((m) => parse(m).removed === true, 5000, "sel-b's removal"));
    expect(removal.kind_namespace_name).toEqual({ kind: "Deployment", namespace: NS, name: "sel-b" });
    await html.until((m) => m.includes("svc-deployment_k8s-restart-app-sel_sel-a") && !m.includes("sel-b"), 5000, "the page without sel-b");
    expect(await names(app)).toEqual([`${NS}/sel-a`]);
    expect((await fetch(`${app.url}/api/v1/service/Deployment/${NS}/sel-b`)).status).toBe(404);
    json.close();
    html.close();
  });

  test("a matched workload restarts like an explicit one; one no longer matched is 404", async () => {
    const ok = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/sel-a/restart`, { method: "POST" });
    expect(ok.status).toBe(200);
    const annotations = JSON.parse(await kubectl(["-n", NS, "get", "deployment", "sel-a", "-o", "json"])).spec.template.metadata.annotations;
    expect(annotations["kubectl.kubernetes.io/restartedAt"]).toBe((await ok.json()).restarted_at);
    expect((await fetch(`${app.url}/api/v1/service/Deployment/${NS}/sel-c/restart`, { method: "POST" })).status).toBe(404);
  });

  test('namespace "*": a workload labelled anywhere joins; deleting it removes it', async () => {
    await label(NS2, "sel-far", "k8s-restart-app-e2e/wide=yes");
    await waitFor(async () => (await names(app)).includes(`${NS2}/sel-far`), 5000, "sel-far in the list");
    await kubectl(["-n", NS2, "delete", "deployment", "sel-far", "--wait=false"]);
    await waitFor(async () => !(await names(app)).includes(`${NS2}/sel-far`), 5000, "sel-far gone");
  });
});
