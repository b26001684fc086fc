// e2e: a drop-in for the original tool — running under exactly its README ClusterRole, the compatible features work.
import { beforeAll, describe, expect, test } from "bun:test";
import { cluster, kubectl, openStatus, restartedAt, startApp, tempDir, waitRollout, writeFile } from "../support/harness.ts";

const NS = "k8s-restart-app-compat";
const SERVICES = [
  { kind: "Deployment", name: "worker", namespace: "billing" },
  { kind: "StatefulSet", name: "ledger", namespace: "billing" },
];

// The original tool's documented RBAC, verbatim in substance: no Leases, no Events, no DaemonSets.
const ORIGINAL_RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: k8s-restart-app-compat-original
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments", "statefulsets"]
    verbs: ["get", "list", "watch", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: k8s-restart-app-compat-original
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: k8s-restart-app-compat-original
subjects:
  - kind: ServiceAccount
    name: restart-app
    namespace: ${NS}
`;

let kubeconfigPath = "";

beforeAll(async () => {
  await kubectl(["create", "namespace", NS], { allowFail: true });
  await kubectl(["-n", NS, "create", "serviceaccount", "restart-app"], { allowFail: true });
  await kubectl(["apply", "-f", "-"], { input: ORIGINAL_RBAC });
  const token = (await kubectl(["-n", NS, "create", "token", "restart-app", "--duration=1h"])).trim();
  kubeconfigPath = writeFile(
    tempDir(),
    "kubeconfig",
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: cluster.APISERVER, "certificate-authority": cluster.CA_FILE } }],
      users: [{ name: "u", user: { token } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  for (const s of SERVICES) await waitRollout(s.kind, s.namespace, s.name);
}, 120_000);

const parse = (m: string) => JSON.parse(m) as any;

describe("under the original tool's ClusterRole", () => {
  test("restart, live status and the lock work; the missing extras are reported, not fatal", async () => {
    const app = await startApp({ kubeconfig: kubeconfigPath, services: SERVICES, env: { LOCK_NAMESPACE: NS, RATE_LIMIT_PER_MINUTE: "0" } });
    const warnings = app.entries().map((e) => e.msg);
    expect(warnings).toContain("cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)");
    expect(warnings).toContain("cannot create Events; restarts are audited in this log only");
    expect(warnings).not.toContain("missing permissions: service cannot be restarted");

    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    await ws.until((m) => parse(m).kind_namespace_name.name === "worker");
    const from = ws.messages.length;
    const [a, b] = await Promise.all([
      fetch(`${app.url}/api/v1/service/Deployment/billing/worker/restart`, { method: "POST" }),
      fetch(`${app.url}/api/v1/service/Deployment/billing/worker/restart`, { method: "POST" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 423]);
    const at = (await (a.status === 200 ? a : b).json()).restarted_at;
    expect(await restartedAt("Deployment", "billing", "worker")).toBe(at);
    await ws.until(
      (m) => parse(m).kind_namespace_name.name === "worker" && parse(m).status.last_restart === at && parse(m).status.rollout === "complete" && !parse(m).is_locked,
      60_000,
      "worker rolled out and unlocked",
      from,
    );
    const sts = await fetch(`${app.url}/api/v1/service/StatefulSet/billing/ledger/restart`, { method: "POST" });
    expect(sts.status).toBe(200);
    await waitRollout("StatefulSet", "billing", "ledger");
    const ready = await (await fetch(`${app.url}/readyz`)).text();
    expect(ready).toContain("locks are in-process only");
    // Without rights on Events and revisions the details degrade: said on /readyz, in a banner, and per service.
    expect(ready).toMatch(/details and history incomplete: missing list events in namespace billing; watch events in namespace billing; list replicasets\.apps in namespace billing/);
    expect(await (await fetch(app.url)).text()).toContain("Service details are incomplete: the app may not read events in billing");
    const details = (await (await fetch(`${app.url}/ui/service/Deployment/billing/worker/details`, { headers: { Accept: "application/json" } })).json()) as any;
    expect(details.events).toEqual([]);
    // No revisions to read: the history holds only the restart this app saw end (revision unknown).
    expect(details.history).toEqual([expect.objectContaining({ restarted_at: at, outcome: "complete", revision: 0 })]);
    expect(details.missing_permissions).toContain("events in billing");
    expect(details.pods.length).toBeGreaterThan(0);
    ws.close();
    await app.stop();
  }, 90_000);
});
