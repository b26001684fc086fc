// e2e against the real control plane: wire shapes, status codes, the annotation, locks, concurrency, metrics.
import { beforeAll, describe, expect, test } from "bun:test";
import { auditEvents, auditFlushed } from "../support/audit.ts";
import { type AppProcess, getJson, kubectl, openStatus, restartedAt, SAMPLE_SERVICES as SERVICES, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { readMetrics } from "../support/metrics.ts";

const LOCK_NS = "k8s-restart-app-e2e";

let app: AppProcess;

beforeAll(async () => {
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await kubectl(["-n", LOCK_NS, "delete", "lease", "--all", "--wait=true"]);
  // An annotation of someone else's on web's pod template: a restart must leave it alone.
  await kubectl(["-n", "shop", "patch", "deployment", "web", "-p", '{"spec":{"template":{"metadata":{"annotations":{"example.com/keep-me":"yes"}}}}}']);
  for (const s of SERVICES.filter((s) => s.name !== "frozen")) await waitRollout(s.kind, s.namespace, s.name);
  app = await startApp({ services: SERVICES, env: { RATE_LIMIT_PER_MINUTE: "0" } });
}, 180_000);

const post = (path: string, init: RequestInit = {}) => fetch(`${app.url}${path}`, { method: "POST", ...init });
const parse = (m: string) => JSON.parse(m) as any;
const isFor = (name: string) => (m: string) => parse(m).kind_namespace_name?.name === name;

/** Waits until the app reports the service rolled out and unlocked, so a restart of it is accepted. */
async function restartable(kind: string, namespace: string, name: string): Promise<void> {
  await waitRollout(kind, namespace, name);
  await waitFor(async () => {
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/${kind}/${namespace}/${name}/status`);
    const m = parse(await ws.until(() => true, 5000));
    ws.close();
    return m.is_locked === false && m.status.rollout === "complete";
  }, 60_000, `${name} rolled out and unlocked`);
}

describe("compatible API surface", () => {
  test("GET /api/v1/service lists the configured services in the original shape", async () => {
    const res = await fetch(`${app.url}/api/v1/service`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ services: SERVICES.map(({ kind, name, namespace }) => ({ kind, name, namespace })) });
  });

  test("status websocket sends every service's full state at once, in the original shape", async () => {
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    await waitFor(() => ws.messages.length >= SERVICES.length, 10_000, "one message per service");
    const byName = new Map(ws.messages.map((m) => [parse(m).kind_namespace_name.name, parse(m)]));
    expect([...byName.keys()].sort()).toEqual(SERVICES.map((s) => s.name).sort());
    const web = byName.get("web");
    expect(Object.keys(web).sort()).toEqual(["is_locked", "kind_namespace_name", "lock", "status"]);
    expect(web.kind_namespace_name).toEqual({ kind: "Deployment", namespace: "shop", name: "web" });
    expect(typeof web.status.message).toBe("string");
    expect(typeof web.status.last_restart).toBe("string");
    expect(web.status.pod_status.Running).toBe(3);
    expect(web.status.rollout).toBe("complete");
    expect(web.status.ready).toBe(3);
    expect(web.is_locked).toBe(false);
    expect(byName.get("frozen").status.rollout).toBe("paused");
    expect(byName.get("agent").status.desired).toBeGreaterThanOrEqual(3);
    ws.close();
  });

  test("plain GET on the status websocket is 400", async () => {
    const res = await fetch(`${app.url}/api/v1/service/status`);
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain("websocket");
  });

  test("bad input gets a clear error and patches nothing", async () => {
    const since = new Date().toISOString();
    const cases: [string, number, string][] = [
      ["/api/v1/service/Pod/shop/web/restart", 400, "unknown kind"],
      ["/api/v1/service/Deployment/Shop/web/restart", 400, "invalid namespace"],
      ["/api/v1/service/Deployment/shop/we_b/restart", 400, "invalid name"],
      ["/api/v1/service/Deployment/shop/%E0%A4%A/restart", 400, "percent-encoding"],
      ["/api/v1/service/Deployment/shop/api/restart", 404, "not in the list"],
      ["/api/v1/service/Deployment/billing/web/restart", 404, "not in the list"],
    ];
    for (const [path, code, text] of cases) {
      const res = await post(path);
      expect(res.status, path).toBe(code);
      const body = await res.json();
      expect(body.message, path).toContain(text);
    }
    const res = await post("/api/v1/service/Deployment/shop/frozen/restart");
    expect(res.status).toBe(409);
    expect((await res.json()).message).toContain("can't restart paused deployment");
    await auditFlushed();
    // Only the app's own patches: the scheduler patches Events of other suites' unschedulable pods meanwhile.
    const patches = auditEvents(since, (e) => e.verb === "patch" && e.objectRef?.resource !== "leases" && !!e.userAgent?.startsWith("k8s-restart-app"));
    expect(patches).toEqual([]);
  });
});

describe("restart flow", () => {
  test("restart patches only restartedAt, locks (423), pushes progress, releases after the rollout", async () => {
    await restartable("Deployment", "shop", "web");
    const before = await getJson(["-n", "shop", "get", "deployment", "web"]);
    expect(before.spec.template.metadata.annotations?.["example.com/keep-me"]).toBe("yes");
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    await ws.until(isFor("web"));
    const res = await post("/api/v1/service/Deployment/shop/web/restart");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("restarting");
    expect(body.restarted_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body.generation).toBeGreaterThan(before.metadata.generation);

    const second = await post("/api/v1/service/Deployment/shop/web/restart");
    expect(second.status).toBe(423);
    expect((await second.json()).error).toBe("locked");

    expect(await restartedAt("Deployment", "shop", "web")).toBe(body.restarted_at);
    const after = await getJson(["-n", "shop", "get", "deployment", "web"]);
    // Only our keys were sent: any other template annotation is untouched.
    expect(after.spec.template.metadata.annotations?.["example.com/keep-me"]).toBe("yes");
    const withFields = await getJson(["-n", "shop", "get", "deployment", "web", "--show-managed-fields"]);
    const managers = withFields.metadata.managedFields.map((f: any) => f.manager);
    expect(managers).toContain("k8s-restart-app");

    await ws.until((m) => isFor("web")(m) && parse(m).is_locked === true, 10_000, "locked status");
    await ws.until((m) => isFor("web")(m) && parse(m).status.rollout === "progressing", 20_000, "progressing status");
    const done = await ws.until(
      (m) => isFor("web")(m) && parse(m).status.rollout === "complete" && parse(m).is_locked === false && parse(m).status.last_restart === body.restarted_at,
      60_000,
      "complete and unlocked",
    );
    expect(parse(done).status.ready).toBe(3);
    // Readiness changes were pushed as they happened, not just the end state.
    const webMsgs = ws.messages.filter(isFor("web")).map(parse);
    expect(webMsgs.length).toBeGreaterThan(3);
    ws.close();
    const again = await post("/api/v1/service/Deployment/shop/web/restart");
    expect(again.status).toBe(200);
    await waitRollout("Deployment", "shop", "web");
  }, 120_000);

  test("StatefulSet and DaemonSet restarts roll out to completion", async () => {
    const targets = [
      ["StatefulSet", "billing", "ledger"],
      ["DaemonSet", "shop", "agent"],
    ] as const;
    for (const [kind, ns, name] of targets) await restartable(kind, ns, name);
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    for (const [kind, ns, name] of targets) {
      const res = await post(`/api/v1/service/${kind}/${ns}/${name}/restart`);
      expect(res.status, name).toBe(200);
      const at = (await res.json()).restarted_at;
      await ws.until(
        (m) => isFor(name)(m) && parse(m).status.rollout === "complete" && !parse(m).is_locked && parse(m).status.last_restart === at,
        90_000,
        `${name} complete`,
      );
      await waitRollout(kind, ns, name, "10s");
    }
    ws.close();
  }, 200_000);

  test("?wait=<seconds> answers only once the rollout is complete and the lock released", async () => {
    await restartable("StatefulSet", "shop", "db");
    const t0 = Date.now();
    const res = await post("/api/v1/service/StatefulSet/shop/db/restart?wait=90");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("complete");
    expect(body.rollout.status.rollout).toBe("complete");
    expect(body.rollout.status.last_restart).toBe(body.restarted_at);
    expect(body.rollout.is_locked).toBe(false);
    // By the time it answered, the cluster agrees: the StatefulSet is at the new revision everywhere.
    const sts = await getJson(["-n", "shop", "get", "statefulset", "db"]);
    expect(sts.status.observedGeneration).toBeGreaterThanOrEqual(body.generation);
    expect(sts.status.updateRevision).toBe(sts.status.currentRevision);
    expect(sts.status.readyReplicas).toBe(sts.spec.replicas);
    expect(Date.now() - t0).toBeLessThan(90_000);
  }, 120_000);

  test("N concurrent POSTs for one service ⇒ exactly one PATCH, the others 423", async () => {
    await restartable("Deployment", "billing", "worker");
    const worker = { kind: "Deployment", namespace: "billing", name: "worker" };
    const before = await readMetrics(app.url);
    const since = new Date().toISOString();
    const N = 25;
    const codes = await Promise.all(Array.from({ length: N }, () => post("/api/v1/service/Deployment/billing/worker/restart").then((r) => r.status)));
    expect(codes.filter((c) => c === 200).length).toBe(1);
    expect(codes.filter((c) => c === 423).length).toBe(N - 1);
    // The metrics count every attempt; a 423 is a refusal (outcome "locked"), not a failed restart.
    const after = await readMetrics(app.url);
    const delta = (name: string, labels: Record<string, string> = worker) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
    expect(delta("restart_app_restarts_total")).toBe(N);
    expect(delta("restart_app_restarts_failed_total")).toBe(0);
    expect(delta("restart_app_restart_requests_total", { ...worker, outcome: "locked" })).toBe(N - 1);
    expect(delta("restart_app_restart_requests_total", { ...worker, outcome: "restarted" })).toBe(1);
    await auditFlushed();
    const patches = auditEvents(
      since,
      (e) => e.verb === "patch" && e.objectRef?.resource === "deployments" && e.objectRef?.namespace === "billing" && e.objectRef?.name === "worker",
    );
    expect(patches.length).toBe(1);
    await waitRollout("Deployment", "billing", "worker");
  }, 90_000);

  test("metrics carry the original names and count restarts and failures", async () => {
    await restartable("Deployment", "shop", "web");
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    await ws.until(isFor("web"));
    const web = { kind: "Deployment", namespace: "shop", name: "web" };
    const before = await readMetrics(app.url);
    const count = (m: typeof before, name: string, labels: Record<string, string> = web) => m.value(name, labels) ?? 0;
    const ok = await post("/api/v1/service/Deployment/shop/web/restart");
    expect(ok.status).toBe(200);
    const at = (await ok.json()).restarted_at;
    expect((await post("/api/v1/service/Deployment/shop/web/restart")).status).toBe(423);
    const after = await readMetrics(app.url);
    const delta = (name: string, labels: Record<string, string> = web) => count(after, name, labels) - count(before, name, labels);
    // Every request counts as a restart (the original's counter); as the original, a 423 is a refusal, not a failed restart; outcomes are counted by reason.
    expect(delta("restart_app_restarts_total")).toBe(2);
    expect(delta("restart_app_restarts_failed_total")).toBe(0);
    expect(delta("restart_app_restart_requests_total", { ...web, outcome: "restarted" })).toBe(1);
    expect(delta("restart_app_restart_requests_total", { ...web, outcome: "locked" })).toBe(1);
    // The original's gauge has no labels; per service under its own name.
    expect(after.value("restart_app_connected_status_watchers")).toBeGreaterThanOrEqual(1);
    expect(after.value("restart_app_service_status_watchers", web)).toBeGreaterThanOrEqual(1);
    expect(after.value("process_resident_memory_bytes")).toBeGreaterThan(0);
    await ws.until((m) => isFor("web")(m) && parse(m).status.last_restart === at && parse(m).status.rollout === "complete" && !parse(m).is_locked, 60_000, "web rolled out and unlocked");
    // The restart above settled: its rollout was timed, by kind and outcome; the state gauges and per-resource watch gauges are set.
    const settled = async () => readMetrics(app.url);
    await waitFor(async () => count(await settled(), "restart_app_rollout_duration_seconds_count", { kind: "Deployment", outcome: "complete" }) > count(before, "restart_app_rollout_duration_seconds_count", { kind: "Deployment", outcome: "complete" }), 20_000, "rollout timed");
    const m = await settled();
    expect(m.value("restart_app_service_rollout_state", { ...web, state: "complete" })).toBe(1);
    expect(m.value("restart_app_service_rollout_state", { ...web, state: "progressing" })).toBe(0);
    expect(m.value("restart_app_service_rollout_state", { kind: "Deployment", namespace: "shop", name: "frozen", state: "paused" })).toBe(1);
    expect(m.value("restart_app_watch_connected", { resource: "deployments", namespace: "shop" })).toBe(1);
    expect(m.value("restart_app_watch_connected", { resource: "pods", namespace: "billing" })).toBe(1);
    expect(m.value("restart_app_watch_connected", { resource: "leases", namespace: "k8s-restart-app-e2e" })).toBe(1);
    // Prometheus naming: no gauge ends in _total.
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((x) => x[1]!);
    expect(gauges.filter((g) => g.startsWith("restart_app_") && g.endsWith("_total"))).toEqual([]);
    ws.close();
  }, 90_000);
});
