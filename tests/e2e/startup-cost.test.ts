// e2e: start-up costs API requests by namespace, not by service — counted from the API server's audit log.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { applyObjects, kubectl, startApp } from "../support/harness.ts";
import { appRequests, auditFlushed, deploymentDoc, freshNamespace } from "./scale-support.ts";

const NS = ["k8s-restart-app-cost-a", "k8s-restart-app-cost-b"];
const LOCK_NS = "k8s-restart-app-e2e";
const PER_NS = [30, 10];
const services = NS.flatMap((ns, i) => Array.from({ length: PER_NS[i]! }, (_, j) => ({ kind: "Deployment", namespace: ns, name: `svc-${j}` })));

beforeAll(async () => {
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  for (const ns of NS) await freshNamespace(ns);
  // No replicas: the request count does not depend on pods, and the shared machine is spared.
  await applyObjects(services.map((s) => deploymentDoc(s.namespace, s.name, {}, 0)));
}, 120_000);

afterAll(async () => {
  for (const ns of NS) await kubectl(["delete", "namespace", ns, "--wait=false"], { allowFail: true });
});

test("40 services in 2 namespaces: one rules review per namespace, no access reviews, one streaming watch per resource: ≤ 5 requests per namespace", async () => {
  const since = new Date(Date.now() - 1000).toISOString();
  const app = await startApp({ services });
  await Bun.sleep(1500); // past ready: anything else start-up sends would show now
  await auditFlushed(LOCK_NS);
  const reqs = appRequests(app.proc.pid, since);
  const count = (resource: string) => reqs.filter((e) => e.objectRef?.resource === resource).length;
  const summary = reqs.map((e) => `${e.verb} ${e.objectRef?.resource} ${e.objectRef?.namespace ?? ""}`).sort();
  // Namespaces involved: the two with services, and the lock namespace (its Lease list/watch are
  // hidden by the cluster's audit policy; its rules review is not).
  expect(count("selfsubjectrulesreviews"), summary.join("\n")).toBe(3);
  expect(count("selfsubjectaccessreviews"), summary.join("\n")).toBe(0);
  for (const ns of NS) {
    const inNs = reqs.filter((e) => e.objectRef?.namespace === ns).map((e) => `${e.verb} ${e.objectRef?.resource}`).sort();
    // Workloads and pods, and issue 11's detail reads (Events, and ReplicaSets for Deployments): one watch each,
    // which streams the current state first (no list).
    expect(inNs).toEqual(["watch deployments", "watch events", "watch pods", "watch replicasets"]);
    expect(inNs.length + 1).toBeLessThanOrEqual(5); // + its rules review: issue 12's bound
  }
  expect(reqs.length, summary.join("\n")).toBeLessThanOrEqual(5 * 3);
  await app.stop();
}, 120_000);
