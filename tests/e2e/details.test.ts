// e2e against the real control plane: a service's details (pods, Events, history) and the one-line why, including the scheduler's reason for a stuck rollout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { applyObjects, type AppProcess, kubectl, openStatus, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { kwokDeployment } from "../support/workloads.ts";

const NS = "details-e2e";
const LOCK_NS = "k8s-restart-app-details";
const ALICE = { "X-Forwarded-User": "alice" };

/** A Deployment whose pods kwok runs (the sample workloads' pinning), failing fast when stuck. */
const SITE = kwokDeployment(NS, "site", { spec: { replicas: 2, progressDeadlineSeconds: 20 }, pod: { terminationGracePeriodSeconds: 2 } });

/** A StatefulSet and a DaemonSet of the same pinning: their revisions are ControllerRevisions. */
const OTHERS = ["StatefulSet", "DaemonSet"]
  .map(
    (kind) => `apiVersion: apps/v1
kind: ${kind}
metadata: {name: ${kind.toLowerCase()}-x, namespace: ${NS}}
spec:
  ${kind === "StatefulSet" ? "replicas: 1\n  serviceName: statefulset-x\n  " : ""}selector: {matchLabels: {app: ${kind.toLowerCase()}-x}}
  template:
    metadata: {labels: {app: ${kind.toLowerCase()}-x}}
    spec:
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      nodeSelector: {type: kwok}
      terminationGracePeriodSeconds: 1
      containers: [{name: main, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: 1m, memory: 1Mi}}}]
`,
  )
  .join("---\n");

let app: AppProcess;

beforeAll(async () => {
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true"]);
  await kubectl(["create", "namespace", NS]);
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await applyObjects([SITE]);
  await kubectl(["apply", "-f", "-"], { input: OTHERS });
  await waitRollout("Deployment", NS, "site");
  await waitRollout("StatefulSet", NS, "statefulset-x");
  await waitRollout("DaemonSet", NS, "daemonset-x");
  app = await startApp({
    services: [
      { kind: "Deployment", name: "site", namespace: NS },
      { kind: "StatefulSet", name: "statefulset-x", namespace: NS },
      { kind: "DaemonSet", name: "daemonset-x", namespace: NS },
    ],
    env: { LOCK_NAMESPACE: LOCK_NS, RATE_LIMIT_PER_MINUTE: "0", AUTH_MODE: "proxy" },
  });
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]);
});

const details = async (kind = "Deployment", name = "site") => {
  const res = await fetch(`${app.url}/ui/service/${kind}/${NS}/${name}/details`, { headers: { ...ALICE, Accept: "application/json" } });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
};

describe("details against the real control plane", () => {
  test("two restarts: history says who, when, complete and how long; pods run the current revision", async () => {
    const at: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/site/restart?wait=120`, { method: "POST", headers: ALICE });
      expect(res.status).toBe(200);
      at.push(((await res.json()) as any).restarted_at);
      if (i === 0) await Bun.sleep(1100); // restartedAt has whole seconds: keep the two apart
    }
    await waitFor(async () => (await details()).history.length >= 2 && (await details()).pods.every((p: any) => p.current && p.ready), 30_000, "history and settled pods");
    const d = await details();
    expect(d.history.slice(0, 2).map((h: any) => h.restarted_at)).toEqual([at[1], at[0]]);
    for (const h of d.history.slice(0, 2)) {
      expect(h.restarted_by).toBe("alice");
      expect(h.outcome).toBe("complete");
      expect(typeof h.duration_sec).toBe("number");
      expect(h.revision).toBeGreaterThan(0);
    }
    expect(d.pods).toHaveLength(2);
    for (const p of d.pods) expect(p).toMatchObject({ phase: "Running", ready: true, current: true, reason: "" });
    expect(d.pods[0].node).not.toBe("");
    // The app's own Restarted Event and the controller's scaling are among the Events.
    const reasons = d.events.map((e: any) => e.reason);
    expect(reasons).toContain("Restarted");
    expect(reasons).toContain("ScalingReplicaSet");
    expect(d.missing_permissions).toEqual([]);
  }, 120_000);

  test("StatefulSet and DaemonSet: history from ControllerRevisions, pods on the current revision", async () => {
    for (const kind of ["StatefulSet", "DaemonSet"]) {
      const name = `${kind.toLowerCase()}-x`;
      const res = await fetch(`${app.url}/api/v1/service/${kind}/${NS}/${name}/restart?wait=120`, { method: "POST", headers: ALICE });
      expect(res.status).toBe(200);
      const at = ((await res.json()) as any).restarted_at;
      await waitFor(async () => (await details(kind, name)).pods.every((p: any) => p.current === true && p.ready), 30_000, `${kind} pods on the new revision`);
      const d = await details(kind, name);
      expect(d.history[0]).toMatchObject({ restarted_at: at, restarted_by: "alice", outcome: "complete" });
      expect(d.history[0].revision).toBeGreaterThanOrEqual(2);
      expect(d.pods.length).toBeGreaterThan(0);
    }
  }, 120_000);

  test("new pods that cannot be scheduled: the pod, the Event and the card's why carry the scheduler's reason", async () => {
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`, ALICE);
    await kubectl(["-n", NS, "patch", "deployment", "site", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"no-such-label":"anywhere"}}}}}']);
    await waitFor(async () => (await details()).pods.some((p: any) => p.reason === "Unschedulable"), 30_000, "an unschedulable pod");
    const d = await details();
    const stuck = d.pods.find((p: any) => p.reason === "Unschedulable");
    expect(stuck).toMatchObject({ phase: "Pending", current: true, ready: false, node: "" });
    expect(stuck.detail).toMatch(/0\/\d+ nodes are available: .*didn't match Pod's node affinity\/selector/);
    expect(d.pods.filter((p: any) => p.current === false).length).toBeGreaterThan(0);
    await waitFor(async () => (await details()).events.some((e: any) => e.type === "Warning" && e.reason === "FailedScheduling"), 30_000, "a FailedScheduling Event");
    // The card's one line, while progressing and once the progress deadline has passed.
    const progressing = await ws.until((m) => /new pod Pending: 0\/\d+ nodes are available/.test(JSON.parse(m).status.why ?? ""), 30_000, "a why while progressing");
    expect(JSON.parse(progressing).status.rollout).toBe("progressing");
    const failed = await ws.until((m) => JSON.parse(m).status.rollout === "failed", 60_000, "the rollout failing");
    expect(JSON.parse(failed).status.why).toMatch(/^1 new pod Pending: 0\/\d+ nodes are available: .*didn't match Pod's node affinity\/selector/);
    ws.close();
  }, 120_000);
});
