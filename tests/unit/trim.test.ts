// Covers src/kube/trim.ts: what the watch caches keep gives the details, history and why exactly what the whole objects give.
import { describe, expect, test } from "bun:test";
import { detailTrim, trimEvent, trimReplicaSet, trimRevision, withoutManagedFields } from "../../src/kube/trim.ts";
import type { ControllerRevision, KubeEvent, ReplicaSet } from "../../src/kube/types.ts";
import { eventsFor } from "../../src/status/events.ts";
import { revisionsOf } from "../../src/status/revisions.ts";

const managed = [{ manager: "kube-controller-manager", operation: "Update", apiVersion: "apps/v1", time: "2026-11-27T13:26:31Z", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:annotations": {} } } }];
const owner = [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "uid-web", controller: true, blockOwnerDeletion: true }];

const events: KubeEvent[] = [
  // As the scheduler writes them (events.k8s.io: eventTime, no first/lastTimestamp).
  { apiVersion: "v1", kind: "Event", action: "Binding", eventTime: "2026-11-27T13:26:31.287929Z" as never, firstTimestamp: null as never, lastTimestamp: null as never, involvedObject: { apiVersion: "v1", kind: "Pod", name: "web-7d9c5-abcde", namespace: "shop", resourceVersion: "551", uid: "p1" }, message: "Successfully assigned shop/web-7d9c5-abcde to node-000002", metadata: { creationTimestamp: "2026-11-27T13:26:31Z" as never, name: "web-7d9c5-abcde.1", namespace: "shop", resourceVersion: "572", uid: "e1" }, reason: "Scheduled", reportingComponent: "default-scheduler", reportingInstance: "default-scheduler-vm", source: {}, type: "Normal" },
  // A repeated Warning with a series.
  { involvedObject: { kind: "Pod", name: "web-7d9c5-abcde", namespace: "shop" }, message: "Back-off restarting failed container", metadata: { name: "web-7d9c5-abcde.2", namespace: "shop", resourceVersion: "600", managedFields: managed } as never, reason: "BackOff", type: "Warning", count: 7, firstTimestamp: "2026-11-27T13:27:00Z" as never, lastTimestamp: "2026-11-27T13:29:00Z" as never, series: { count: 9, lastObservedTime: "2026-11-27T13:30:00.000000Z" as never }, source: { component: "kubelet", host: "node-000002" } },
  { involvedObject: { kind: "ReplicaSet", name: "web-7d9c5" }, message: "Created pod: web-7d9c5-abcde", metadata: { name: "web-7d9c5.3", namespace: "shop", resourceVersion: "540" }, reason: "SuccessfulCreate", type: "Normal", count: 1, firstTimestamp: "2026-11-27T13:26:30Z" as never, lastTimestamp: "2026-11-27T13:26:30Z" as never },
];

const template = (restartedAt: string) => ({ metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt, "k8s-restart-app.k8scope.io/restartedBy": "alice" }, labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27", resources: {}, env: [{ name: "X", value: "1" }] }] } });
const replicaSets: ReplicaSet[] = [1, 2].map((n) => ({
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: { name: `web-${n}`, namespace: "shop", uid: `rs-${n}`, resourceVersion: String(100 + n), creationTimestamp: `2026-11-2${n}T10:00:00Z` as never, labels: { app: "web", "pod-template-hash": `h${n}` }, annotations: { "deployment.kubernetes.io/revision": String(n), "deployment.kubernetes.io/desired-replicas": "2" }, ownerReferences: owner, managedFields: managed },
  spec: { replicas: 2, selector: { matchLabels: { app: "web", "pod-template-hash": `h${n}` } }, template: template(`2026-11-2${n}T10:00:00Z`) },
  status: { replicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 },
})) as unknown as ReplicaSet[];
const revisions: ControllerRevision[] = [3, 4].map((n) => ({
  metadata: { name: `db-${n}`, namespace: "shop", uid: `cr-${n}`, resourceVersion: String(200 + n), creationTimestamp: `2026-11-2${n}T10:00:00Z` as never, labels: { "controller-revision-hash": `c${n}` }, ownerReferences: [{ ...owner[0]!, kind: "StatefulSet", name: "db", uid: "uid-db" }], managedFields: managed },
  revision: n,
  data: { spec: { template: { ...template(`2026-11-2${n}T11:00:00Z`), $patch: "replace" } } },
})) as unknown as ControllerRevision[];

describe("what the caches keep", () => {
  test("Events: the service's event lines are the same from the kept objects", () => {
    const subjects = { workload: "Deployment/web", revisions: ["ReplicaSet/web-7d9c5"], pods: ["Pod/web-7d9c5-abcde"] };
    const kept = structuredClone(events).map(trimEvent);
    expect(eventsFor(subjects, kept)).toEqual(eventsFor(subjects, events));
    expect(eventsFor(subjects, kept)).toHaveLength(3);
    expect(kept[1]).not.toHaveProperty("source");
    expect(kept[1]!.metadata).not.toHaveProperty("managedFields");
  });

  test("ReplicaSets and ControllerRevisions: the same history without their pod specs", () => {
    const rs = structuredClone(replicaSets).map(trimReplicaSet);
    const crs = structuredClone(revisions).map(trimRevision);
    expect(revisionsOf("Deployment", rs, [])).toEqual(revisionsOf("Deployment", replicaSets, []));
    expect(revisionsOf("StatefulSet", [], crs)).toEqual(revisionsOf("StatefulSet", [], revisions));
    expect(revisionsOf("Deployment", rs, [])[0]).toMatchObject({ revision: 2, hash: "h2", restartedBy: "alice" });
    // Ownership (for ownedBy and an Event about a ReplicaSet) survives.
    expect(rs[0]!.metadata?.ownerReferences?.[0]?.uid).toBe("uid-web");
    // The pod spec, status and managedFields are not kept.
    for (const o of [...rs, ...crs]) expect(JSON.stringify(o)).not.toMatch(/nginx|managedFields|readyReplicas/);
  });

  test("the keeper by resource, and managedFields dropped from whole objects", () => {
    expect(detailTrim("events")(structuredClone(events[1]!))).toEqual(trimEvent(structuredClone(events[1]!)));
    expect(detailTrim("replicasets")(structuredClone(replicaSets[0]!))).toEqual(trimReplicaSet(structuredClone(replicaSets[0]!)));
    expect(detailTrim("controllerrevisions")(structuredClone(revisions[0]!))).toEqual(trimRevision(structuredClone(revisions[0]!)));
    const whole = withoutManagedFields(structuredClone(replicaSets[0]!));
    expect(whole.metadata).not.toHaveProperty("managedFields");
    expect(whole.status?.readyReplicas).toBe(2);
  });
});
