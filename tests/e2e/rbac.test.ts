// e2e: the app's own Kubernetes permissions — the self-check against a ServiceAccount lacking patch, and the `rbac` subcommand's least-privilege Roles working end to end.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CLUSTER_ROLE_RULES } from "../../src/rbac.ts";
import { auditEvents, auditFlushed } from "../support/audit.ts";
import { applyObjects, type AppProcess, ROOT, cluster, getJson, kubectl, openStatus, startApp, tempDir, waitFor, waitRollout, writeFile } from "../support/harness.ts";
import { readMetrics } from "../support/metrics.ts";
import { kwokPodTemplate } from "../support/workloads.ts";

const APP_NS = "k8s-restart-app-rbac";
const NS_A = "k8s-restart-app-rbac-a";
const NS_B = "k8s-restart-app-rbac-b";
const dir = tempDir("k8s-restart-app-rbac-");
const parse = (m: string) => JSON.parse(m) as any;

function workload(kind: "Deployment" | "StatefulSet", namespace: string, name: string) {
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name, namespace, labels: { app: name } },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: kwokPodTemplate(name), ...(kind === "StatefulSet" ? { serviceName: name } : {}) },
  };
}

/** A kubeconfig that authenticates as the ServiceAccount with a fresh token, verifying the cluster CA. */
async function saKubeconfig(sa: string): Promise<string> {
  const token = (await kubectl(["-n", APP_NS, "create", "token", sa, "--duration=1h"])).trim();
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: cluster.APISERVER, "certificate-authority": cluster.CA_FILE } }],
    users: [{ name: sa, user: { token } }],
    contexts: [{ name: "x", context: { cluster: "c", user: sa } }],
    "current-context": "x",
  };
  return writeFile(dir, `${sa}.kubeconfig`, JSON.stringify(doc));
}

/** Runs the app binary's `rbac` subcommand exactly as an operator would. */
async function rbacCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const cmd = process.env.APP_BIN ? [process.env.APP_BIN] : [process.execPath, "run", join(ROOT, "src/main.ts")];
  const p = Bun.spawn([...cmd, "rbac", ...args], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

beforeAll(async () => {
  for (const ns of [APP_NS, NS_A, NS_B]) await kubectl(["create", "namespace", ns], { allowFail: true });
  await kubectl(["-n", APP_NS, "delete", "lease", "--all", "--wait=true"]);
  // Start every run from no grants at all, so a rule left over from an earlier run cannot help.
  for (const ns of [APP_NS, NS_A, NS_B]) {
    await kubectl(["-n", ns, "delete", "role,rolebinding", "-l", "app.kubernetes.io/name=k8s-restart-app", "--ignore-not-found", "--wait=true"]);
    await kubectl(["-n", ns, "delete", "role,rolebinding", "-l", "test=k8s-restart-app-rbac", "--ignore-not-found", "--wait=true"]);
  }
  for (const sa of ["nopatch", "restarter"]) await kubectl(["-n", APP_NS, "create", "serviceaccount", sa], { allowFail: true });
  const items = [
    workload("Deployment", NS_A, "rb-web"),
    workload("StatefulSet", NS_A, "rb-db"),
    workload("Deployment", NS_A, "rb-other"),
    workload("Deployment", NS_B, "rb-worker"),
  ];
  await applyObjects(items);
  for (const w of items) await waitRollout(w.kind, w.metadata.namespace, w.metadata.name);
}, 180_000);

describe("self-check: a ServiceAccount that may watch but not patch", () => {
  let app: AppProcess;
  const web = { kind: "Deployment", name: "rb-web", namespace: NS_A };
  const worker = { kind: "Deployment", name: "rb-worker", namespace: NS_B };
  const labels = { kind: "Deployment", namespace: NS_A, name: "rb-web" };
  const missing = `patch deployments.apps/rb-web in namespace ${NS_A}`;

  beforeAll(async () => {
    const role = (ns: string, name: string, rules: unknown[]) => ({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace: ns, labels: { test: "k8s-restart-app-rbac" } },
      rules,
    });
    const binding = (ns: string, name: string) => ({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: ns, labels: { test: "k8s-restart-app-rbac" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: "nopatch", namespace: APP_NS }],
    });
    const items = [
      role(NS_A, "nopatch", [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create"] },
      ]),
      binding(NS_A, "nopatch"),
      role(APP_NS, "nopatch-locks", [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch", "create", "update"] }]),
      binding(APP_NS, "nopatch-locks"),
    ];
    await applyObjects(items);
    // rb-worker lives in a namespace the SA may not even read: it must not hold up the rest.
    app = await startApp({ kubeconfig: await saKubeconfig("nopatch"), services: [web, worker], env: { LOCK_NAMESPACE: APP_NS, RATE_LIMIT_PER_MINUTE: "0" } });
  }, 60_000);

  test("the app logs the missing permission, /readyz lists it and the page shows the banner", async () => {
    await waitFor(() => app.entries().some((e) => e.msg?.startsWith("missing permissions")), 10_000, "the missing-permissions log line");
    const line = app.entries().find((e) => e.msg?.startsWith("missing permissions") && e.service === `Deployment/${NS_A}/rb-web`)!;
    expect(line.level).toBe("error");
    expect(line.service).toBe(`Deployment/${NS_A}/rb-web`);
    expect(line.missing).toEqual([missing]);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200); // the rest of the app works; the service is marked unusable
    expect(await ready.text()).toContain(missing);
    const page = await (await fetch(`${app.url}/`, { headers: { Accept: "text/html" } })).text();
    expect(page).toContain('id="banner-access"');
    expect(page).toContain(missing);
    expect(page).toContain("Unavailable: the app lacks permissions for this service");
  });

  test("a service in a namespace the app may not read is reported as such, and the others still sync and stream", async () => {
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    const byName = async (name: string) => parse(await ws.until((m) => parse(m).kind_namespace_name.name === name, 10_000, name));
    const w = await byName("rb-worker");
    expect(w.status.rollout).toBe("unknown");
    expect(w.status.message).toContain(`the app may not watch this service: missing list deployments.apps in namespace ${NS_B}`);
    expect((await byName("rb-web")).status.rollout).toBe("complete");
    ws.close();
  });

  test("a restart is a clean 403 JSON, patches nothing and counts as a forbidden outcome", async () => {
    const before = await readMetrics(app.url);
    const since = new Date().toISOString();
    const annotation = (await getJson(["-n", NS_A, "get", "deployment", "rb-web"])).spec.template.metadata.annotations;
    const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS_A}/rb-web/restart`, { method: "POST" });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = await res.json();
    expect(body.error).toBe("forbidden");
    expect(body.message).toContain("the app itself lacks permissions");
    expect(body.message).toContain(missing);
    await auditFlushed();
    const sa = `system:serviceaccount:${APP_NS}:nopatch`;
    expect(auditEvents(since, (e) => e.verb === "patch" && e.objectRef?.namespace === NS_A)).toEqual([]);
    // The app did not even try (it knew): no request of the SA was refused by the API server.
    expect(auditEvents(since, (e) => e.user.username === sa && e.responseStatus?.code === 403)).toEqual([]);
    expect((await getJson(["-n", NS_A, "get", "deployment", "rb-web"])).spec.template.metadata.annotations).toEqual(annotation);
    const after = await readMetrics(app.url);
    const delta = (name: string, l: Record<string, string> = labels) => (after.value(name, l) ?? 0) - (before.value(name, l) ?? 0);
    // Refused before any attempt: not a failed restart (as the original counts them), a "forbidden" outcome.
    expect(delta("restart_app_restarts_failed_total")).toBe(0);
    expect(delta("restart_app_restart_requests_total", { ...labels, outcome: "forbidden" })).toBe(1);
    expect(delta("restart_app_restarts_total")).toBe(1);
  });
});

describe("`rbac` subcommand: least-privilege namespaced Roles", () => {
  const services = [
    { kind: "Deployment", name: "rb-web", namespace: NS_A },
    { kind: "StatefulSet", name: "rb-db", namespace: NS_A },
    { kind: "Deployment", name: "rb-worker", namespace: NS_B },
  ];
  const configPath = writeFile(dir, "config.yaml", `services:\n${services.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`);
  const sa = `system:serviceaccount:${APP_NS}:restarter`;
  let printed = "";
  let docs: any[] = [];

  beforeAll(async () => {
    const r = await rbacCli(["--namespace", APP_NS, "--service-account", "restarter"], { CONFIG_FILE_PATH: configPath });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    printed = r.out;
    docs = parseAllDocuments(printed).map((d) => d.toJS());
    // The printed Roles, applied as an operator would: the grants the tests below check and run under.
    await kubectl(["apply", "-f", "-"], { input: printed });
  }, 60_000);

  test("prints one Role + RoleBinding per workload namespace and the Lease Role in the app namespace, nothing cluster-scoped", () => {
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      `Role ${NS_A}/restarter`,
      `RoleBinding ${NS_A}/restarter`,
      `Role ${NS_B}/restarter`,
      `RoleBinding ${NS_B}/restarter`,
      `Role ${APP_NS}/restarter-locks`,
      `RoleBinding ${APP_NS}/restarter-locks`,
    ]);
    const a = docs.find((d) => d.kind === "Role" && d.metadata.namespace === NS_A);
    const named = (resource: string) => a.rules.find((r: any) => r.resources.includes(resource) && r.verbs.includes("patch"));
    expect(named("deployments")).toEqual({ apiGroups: ["apps"], resources: ["deployments"], verbs: ["patch"], resourceNames: ["rb-web"] });
    expect(named("statefulsets")).toEqual({ apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["patch"], resourceNames: ["rb-db"] });
    // Every rule granting patch names its objects.
    for (const d of docs.filter((x) => x.kind === "Role")) for (const r of d.rules) if (r.verbs.includes("patch")) expect(r.resourceNames?.length).toBeGreaterThan(0);
    for (const b of docs.filter((x) => x.kind === "RoleBinding")) expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: "restarter", namespace: APP_NS }]);
  });

  test("--cluster-role prints the shared ClusterRole rules; a bad argument is a configuration error", async () => {
    const r = await rbacCli(["--cluster-role", "--namespace=ops"], {});
    expect(r.code).toBe(0);
    const all = parseAllDocuments(r.out).map((d) => d.toJS());
    const cr = all.find((d) => d.kind === "ClusterRole");
    expect(cr.rules).toEqual(CLUSTER_ROLE_RULES);
    expect(all.find((d) => d.kind === "ClusterRoleBinding").subjects).toEqual([{ kind: "ServiceAccount", name: "k8s-restart-app", namespace: "ops" }]);
    const bad = await rbacCli(["--namespace", "Not_A_Namespace"], { CONFIG_FILE_PATH: configPath });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--namespace");
  });

  test("applied to the cluster, the printed Roles grant patch on exactly the configured workloads", async () => {
    const can = async (verb: string, what: string, ns: string) =>
      (await kubectl(["auth", "can-i", verb, what, "-n", ns, `--as=${sa}`], { allowFail: true })).trim();
    expect(await can("patch", "deployments/rb-web", NS_A)).toBe("yes");
    expect(await can("patch", "statefulsets/rb-db", NS_A)).toBe("yes");
    expect(await can("patch", "deployments/rb-worker", NS_B)).toBe("yes");
    expect(await can("patch", "deployments/rb-other", NS_A)).toBe("no");
    expect(await can("patch", "statefulsets/rb-web", NS_A)).toBe("no");
    expect(await can("patch", "deployments/rb-web", NS_B)).toBe("no");
    expect(await can("delete", "deployments/rb-web", NS_A)).toBe("no");
    expect(await can("list", "deployments", NS_A)).toBe("yes");
    expect(await can("list", "deployments", "shop")).toBe("no");
    expect(await can("list", "secrets", NS_A)).toBe("no");
    expect(await can("update", "leases", APP_NS)).toBe("yes");
    expect(await can("update", "leases", NS_A)).toBe("no");
    const crbs = await getJson(["get", "clusterrolebindings"]);
    expect(crbs.items.filter((b: any) => (b.subjects ?? []).some((s: any) => s.namespace === APP_NS && s.name === "restarter"))).toEqual([]);
  });

  test("the app running as that ServiceAccount restarts in both namespaces; locks are released; nothing is missing or refused", async () => {
    const since = new Date().toISOString();
    const app = await startApp({ kubeconfig: await saKubeconfig("restarter"), services, env: { LOCK_NAMESPACE: APP_NS, RATE_LIMIT_PER_MINUTE: "0" } });
    const complaints = app.entries().filter((e) => /missing permission|cannot use Leases|cannot create Events|self-check failed/.test(e.msg ?? ""));
    expect(complaints).toEqual([]);
    expect(await (await fetch(`${app.url}/readyz`)).text()).toBe("ok\n");
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    for (const s of services) {
      const res = await fetch(`${app.url}/api/v1/service/${s.kind}/${s.namespace}/${s.name}/restart`, { method: "POST" });
      const body = await res.json();
      expect(res.status, `${s.name}: ${JSON.stringify(body)}`).toBe(200);
      const o = await getJson(["-n", s.namespace, "get", s.kind.toLowerCase(), s.name]);
      expect(o.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toBe(body.restarted_at);
      await ws.until(
        (m) => parse(m).kind_namespace_name.name === s.name && parse(m).status.rollout === "complete" && !parse(m).is_locked && parse(m).status.last_restart === body.restarted_at,
        90_000,
        `${s.name} rolled out and unlocked`,
      );
      await waitRollout(s.kind, s.namespace, s.name, "30s");
      const lease = await getJson(["-n", APP_NS, "get", "lease", `restart.${s.kind.toLowerCase()}.${s.namespace}.${s.name}`]);
      expect(lease.spec.holderIdentity ?? "").toBe("");
    }
    ws.close();
    await auditFlushed();
    const patches = auditEvents(since, (e) => e.verb === "patch" && e.user.username === sa);
    expect(patches.map((e) => `${e.objectRef?.resource}/${e.objectRef?.name} ${e.responseStatus?.code}`).sort()).toEqual([
      "deployments/rb-web 200",
      "deployments/rb-worker 200",
      "statefulsets/rb-db 200",
    ]);
    const events = auditEvents(since, (e) => e.verb === "create" && e.objectRef?.resource === "events" && e.user.username === sa);
    expect(events.map((e) => e.responseStatus?.code)).toEqual([201, 201, 201]);
    // Not a single request of the app was refused by RBAC.
    expect(auditEvents(since, (e) => e.user.username === sa && e.responseStatus?.code === 403)).toEqual([]);
    expect(app.entries().filter((e) => e.level === "error")).toEqual([]);
    await app.stop();
  }, 240_000);
});
