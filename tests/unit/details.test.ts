// Pure rules behind the details panel: pod reasons, revisions, Events, the one-line why, outcomes and history — table-driven from real object shapes.
import { describe, expect, test } from "bun:test";
import type { ControllerRevision, KubeEvent, Pod, ReplicaSet } from "../../src/kube/types.ts";
import { historyOf } from "../../src/status/details.ts";
import { eventsFor, podNamePattern } from "../../src/status/events.ts";
import type { ServiceStatus } from "../../src/status/model.ts";
import { makeOutcomeBook } from "../../src/status/outcomes.ts";
import { podInfo, podProblem, sortPods } from "../../src/status/pods.ts";
import { controllerRevision, currentHash, replicaSetRevision, revisionsOf } from "../../src/status/revisions.ts";
import { whyLine } from "../../src/status/why.ts";

const NOW = Date.parse("2026-11-27T10:00:00Z");

/** A pod as the API server sends it (kwok-run, trimmed to the fields the app reads). */
function pod(name: string, hash: string, status: Pod["status"], extra: { node?: string; deleting?: boolean } = {}): Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      labels: { app: "web", "pod-template-hash": hash },
      creationTimestamp: "2026-11-27T09:58:00Z" as never,
      ...(extra.deleting ? { deletionTimestamp: "2026-11-27T09:59:59Z" as never } : {}),
    },
    spec: { containers: [{ name: "web", image: "nginx" }], nodeName: extra.node },
    status,
  };
}

const RUNNING: Pod["status"] = {
  phase: "Running",
  conditions: [
    { type: "PodScheduled", status: "True" },
    { type: "Ready", status: "True" },
  ],
  containerStatuses: [{ name: "web", image: "nginx", imageID: "", ready: true, restartCount: 0, state: { running: { startedAt: "2026-11-27T09:58:02Z" as never } } }],
};
const UNSCHEDULABLE: Pod["status"] = {
  phase: "Pending",
  conditions: [
    {
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    },
  ],
};
const crashLoop = (restarts: number, exitCode: number, lastReason = "Error"): Pod["status"] => ({
  phase: "Running",
  conditions: [{ type: "PodScheduled", status: "True" }, { type: "Ready", status: "False" }],
  containerStatuses: [
    {
      name: "web",
      image: "nginx",
      imageID: "",
      ready: false,
      restartCount: restarts,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 2m40s restarting failed container=web pod=web-7d9c_shop" } },
      lastState: { terminated: { exitCode, reason: lastReason, startedAt: "2026-11-27T09:59:00Z" as never, finishedAt: "2026-11-27T09:59:01Z" as never } },
    },
  ],
});
const waiting = (reason: string, message = ""): Pod["status"] => ({
  phase: "Pending",
  conditions: [{ type: "PodScheduled", status: "True" }],
  containerStatuses: [{ name: "web", image: "nginx:nope", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message } } }],
});

describe("pods: reason, readiness, revision", () => {
  const cases: [string, Pod["status"], string, string][] = [
    ["running pod", RUNNING, "", ""],
    ["cannot be scheduled", UNSCHEDULABLE, "Unschedulable", "0/3 nodes are available"],
    ["crash loop with the last exit code", crashLoop(5, 1), "CrashLoopBackOff (exit 1)", "back-off"],
    ["crash loop after OOM", crashLoop(2, 137, "OOMKilled"), "CrashLoopBackOff (exit 137, OOMKilled)", ""],
    ["image pull", waiting("ImagePullBackOff", 'Back-off pulling image "nginx:nope"'), "ImagePullBackOff", "Back-off pulling image"],
    ["container creating", waiting("ContainerCreating"), "ContainerCreating", ""],
    [
      "terminated by OOM",
      { phase: "Running", containerStatuses: [{ name: "w", image: "", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }] },
      "OOMKilled (exit 137)",
      "",
    ],
  ];
  for (const [what, status, reason, detail] of cases) {
    test(what, () => {
      const p = podProblem(pod("web-1", "abc", status));
      expect(p?.reason ?? "").toBe(reason);
      expect(p?.detail ?? "").toContain(detail);
    });
  }

  test("podInfo: restarts summed, age, node, current against the workload's hash, Terminating", () => {
    const i = podInfo(pod("web-abc-1", "abc", crashLoop(5, 1), { node: "kwok-node-0" }), "abc", NOW);
    expect(i).toMatchObject({ name: "web-abc-1", phase: "Running", ready: false, restarts: 5, ageSec: 120, node: "kwok-node-0", current: true });
    expect(podInfo(pod("web-old-1", "old", RUNNING), "abc", NOW).current).toBe(false);
    expect(podInfo(pod("web-old-1", "old", RUNNING), undefined, NOW).current).toBeUndefined();
    expect(podInfo(pod("web-old-1", "old", RUNNING, { deleting: true }), "abc", NOW)).toMatchObject({ phase: "Terminating", ready: false });
  });

  test("problems first, then current pods, then old ones", () => {
    const list = [podInfo(pod("a-old", "old", RUNNING), "new", NOW), podInfo(pod("b-new", "new", RUNNING), "new", NOW), podInfo(pod("c-bad", "new", UNSCHEDULABLE), "new", NOW)];
    expect(sortPods(list).map((p) => p.name)).toEqual(["c-bad", "b-new", "a-old"]);
  });
});

const rs = (name: string, hash: string, revision: number, restartedAt?: string, by?: string): ReplicaSet => ({
  metadata: {
    name,
    namespace: "shop",
    labels: { app: "web", "pod-template-hash": hash },
    annotations: { "deployment.kubernetes.io/revision": String(revision) },
    creationTimestamp: "2026-11-27T09:00:00Z" as never,
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1", controller: true }],
  },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { annotations: { ...(restartedAt ? { "kubectl.kubernetes.io/restartedAt": restartedAt } : {}), ...(by ? { "k8s-restart-app.k8scope.io/restartedBy": by } : {}) } } },
  },
});

describe("revisions", () => {
  test("ReplicaSets: newest revision is current; restartedAt/By come from the pod template", () => {
    const revs = revisionsOf("Deployment", [rs("web-aaa", "aaa", 1), rs("web-ccc", "ccc", 3, "2026-11-27T09:50:00Z", "alice"), rs("web-bbb", "bbb", 2, "2026-11-27T09:40:00Z")], []);
    expect(revs.map((r) => r.revision)).toEqual([3, 2, 1]);
    expect(revs[0]).toMatchObject({ hash: "ccc", restartedAt: "2026-11-27T09:50:00Z", restartedBy: "alice" });
    expect(currentHash("Deployment", { metadata: {} }, revs)).toBe("ccc");
    expect(replicaSetRevision(rs("x", "h", 7)).restartedAt).toBe("");
  });

  test("ControllerRevisions: StatefulSet pods carry the revision's name, DaemonSet pods the hash label", () => {
    const cr = (name: string, hash: string, revision: number, at?: string): ControllerRevision => ({
      revision,
      metadata: { name, labels: { "controller-revision-hash": hash, "controller.kubernetes.io/hash": hash } },
      data: { spec: { template: { $patch: "replace", metadata: { annotations: at ? { "kubectl.kubernetes.io/restartedAt": at } : {} } } } },
    });
    expect(controllerRevision("StatefulSet", cr("db-7bbbc49d49", "7bbbc49d49", 2, "2026-11-27T09:00:00Z"))).toMatchObject({ hash: "db-7bbbc49d49", revision: 2, restartedAt: "2026-11-27T09:00:00Z" });
    expect(controllerRevision("DaemonSet", cr("agent-575cc74bfb", "575cc74bfb", 1)).hash).toBe("575cc74bfb");
    const revs = revisionsOf("StatefulSet", [], [cr("db-a", "a", 1), cr("db-b", "b", 2)]);
    expect(currentHash("StatefulSet", { status: { updateRevision: "db-a", replicas: 1 } } as never, revs)).toBe("db-a");
  });
});

const event = (kind: string, name: string, reason: string, message: string, o: Partial<KubeEvent> = {}): KubeEvent => ({
  metadata: { name: `${name}.${reason}.${Math.random()}`, namespace: "shop" },
  involvedObject: { kind, name, namespace: "shop" },
  reason,
  message,
  type: "Normal",
  count: 1,
  firstTimestamp: "2026-11-27T09:59:00Z" as never,
  lastTimestamp: "2026-11-27T09:59:00Z" as never,
  ...o,
});

describe("events", () => {
  const subjects = { workload: "Deployment/web", revisions: ["ReplicaSet/web-ccc"], pods: ["Pod/web-ccc-x1y2z"], podName: podNamePattern("Deployment", "web", ["web-ccc", "web-bbb"]) };

  test("the workload's, its ReplicaSets' and its pods' Events; others and irrelevant Normal ones are left out", () => {
    const got = eventsFor(subjects, [
      event("Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-ccc from 0 to 1"),
      event("Pod", "web-ccc-x1y2z", "FailedScheduling", "0/3 nodes are available", { type: "Warning", lastTimestamp: "2026-11-27T09:59:30Z" as never }),
      event("Pod", "web-bbb-gone1", "Killing", "Stopping container web"),
      event("Pod", "web-ccc-x1y2z", "Pulled", "Container image already present"),
      event("Deployment", "api", "ScalingReplicaSet", "Scaled up replica set api-1"),
      event("Pod", "web-other-thing-x1y2z", "BackOff", "not ours", { type: "Warning" }),
    ]);
    expect(got.map((e) => `${e.object} ${e.reason}`)).toEqual(["Pod/web-ccc-x1y2z FailedScheduling", "Deployment/web ScalingReplicaSet", "Pod/web-bbb-gone1 Killing"]);
  });

  test("repeats are counted, not duplicated; at most 20", () => {
    const many = Array.from({ length: 30 }, (_, i) => event("Deployment", "web", "Restarted", `restart ${i}`, { lastTimestamp: new Date(NOW - i * 1000).toISOString() as never }));
    const repeated = [
      event("Pod", "web-ccc-x1y2z", "BackOff", "Back-off restarting failed container", { type: "Warning", count: 4 }),
      event("Pod", "web-ccc-x1y2z", "BackOff", "Back-off restarting failed container", { type: "Warning", count: 2, lastTimestamp: "2026-11-27T09:59:50Z" as never }),
    ];
    const got = eventsFor(subjects, repeated);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ count: 6, lastSeen: "2026-11-27T09:59:50.000Z" });
    expect(eventsFor(subjects, many)).toHaveLength(20);
  });
});

describe("why, in one line", () => {
  const base = { lastRestart: "2026-11-27T09:59:30Z", nowMs: NOW, desired: 3, updated: 1, events: [] };
  const info = (name: string, hash: string, status: Pod["status"]) => podInfo(pod(name, hash, status), "new", NOW);
  test("unschedulable new pods: the scheduler's words", () => {
    const why = whyLine({ ...base, rollout: "progressing", pods: [info("web-old-a", "old", RUNNING), info("web-new-b", "new", UNSCHEDULABLE)] });
    expect(why).toBe("1 new pod Pending: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
  });
  test("a crash loop: pod, reason with exit code, restarts", () => {
    expect(whyLine({ ...base, rollout: "failed", pods: [info("web-7d9c-x", "new", crashLoop(5, 1))] })).toBe("web-7d9c-x CrashLoopBackOff (exit 1), 5 restarts");
  });
  test("old pods' problems do not count; a young rollout with an ordinary wait says nothing", () => {
    expect(whyLine({ ...base, rollout: "progressing", pods: [info("web-old", "old", crashLoop(3, 1)), info("web-new", "new", waiting("ContainerCreating"))] })).toBe("");
  });
  test("a slow rollout says what it waits for", () => {
    expect(whyLine({ ...base, lastRestart: "2026-11-27T09:55:00Z", rollout: "progressing", pods: [info("web-new", "new", waiting("ContainerCreating"))] })).toBe("web-new ContainerCreating");
  });
  test("a failed rollout with nothing else known still says the new revision failed; a Warning Event is used when there is one", () => {
    expect(whyLine({ ...base, rollout: "failed", pods: [info("web-old", "old", RUNNING)] })).toBe("the new revision did not become ready: 1 of 3 pods updated");
    const events = eventsFor({ workload: "Deployment/web", revisions: ["ReplicaSet/web-new"], pods: [] }, [
      event("ReplicaSet", "web-new", "FailedCreate", 'pods "web-new-x" is forbidden: exceeded quota', { type: "Warning", count: 3 }),
    ]);
    expect(whyLine({ ...base, rollout: "failed", pods: [], events })).toBe('ReplicaSet/web-new FailedCreate: pods "web-new-x" is forbidden: exceeded quota (3×)');
  });
  test("complete: nothing", () => {
    expect(whyLine({ ...base, rollout: "complete", pods: [info("web-new", "new", UNSCHEDULABLE)] })).toBe("");
  });
});

const status = (o: Partial<ServiceStatus>): ServiceStatus => ({
  service: { kind: "Deployment", namespace: "shop", name: "web" },
  rollout: "complete",
  message: "",
  desired: 3,
  ready: 3,
  updated: 3,
  podStatus: {},
  podsReady: 3,
  lastRestart: "2026-11-27T09:59:00Z",
  restartedBy: "",
  lock: null,
  ...o,
});

describe("outcomes and history", () => {
  test("a restart seen under way gets its outcome and duration once it ends; one that ended before the app watched does not", () => {
    const book = makeOutcomeBook();
    expect(book.observe(status({}), NOW)).toBeUndefined();
    expect(book.observe(status({ rollout: "progressing" }), NOW - 30_000)).toBeUndefined();
    const o = book.observe(status({}), NOW - 28_000);
    expect(o).toMatchObject({ result: "complete", seconds: 32, restartedAt: "2026-11-27T09:59:00Z" });
    expect(book.observe(status({}), NOW)).toEqual(o!);
    expect(book.of("Deployment/shop/web")).toHaveLength(1);
  });

  test("failed (Deployment) and timed out (StatefulSet) keep the why", () => {
    const book = makeOutcomeBook();
    book.observe(status({ rollout: "progressing" }), NOW);
    expect(book.observe(status({ rollout: "failed", why: "1 new pod Pending: no nodes" }), NOW + 300_000)).toMatchObject({ result: "failed", why: "1 new pod Pending: no nodes" });
    const ss = { kind: "StatefulSet" as const, namespace: "shop", name: "db" };
    book.observe(status({ service: ss, rollout: "progressing" }), NOW);
    expect(book.observe(status({ service: ss, rollout: "failed" }), NOW + 1000)?.result).toBe("timed-out");
  });

  test("history: restarts from revisions, newest first, merged with the outcomes the app saw", () => {
    const revs = revisionsOf("Deployment", [rs("web-a", "a", 1), rs("web-b", "b", 2, "2026-11-27T09:40:00Z", "bob"), rs("web-c", "c", 3, "2026-11-27T09:59:00Z", "alice")], []);
    const book = makeOutcomeBook();
    book.observe(status({ rollout: "progressing" }), NOW - 30_000);
    book.observe(status({}), NOW - 28_000);
    const h = historyOf(revs, book.of("Deployment/shop/web"), status({}));
    expect(h).toEqual([
      { restartedAt: "2026-11-27T09:59:00Z", restartedBy: "alice", revision: 3, outcome: "complete", durationSec: 32, why: "" },
      { restartedAt: "2026-11-27T09:40:00Z", restartedBy: "bob", revision: 2, outcome: "unknown", durationSec: null, why: "" },
    ]);
    expect(historyOf(revs, [], status({ rollout: "progressing" }))[0]!.outcome).toBe("in-progress");
    // Without revisions (no rights on ReplicaSets, or pruned): the restarts the app saw end, with who.
    const alone = makeOutcomeBook();
    alone.observe(status({ rollout: "progressing", restartedBy: "carol" }), NOW - 10_000);
    alone.observe(status({ restartedBy: "carol" }), NOW);
    expect(historyOf([], alone.of("Deployment/shop/web"), status({}))).toEqual([
      { restartedAt: "2026-11-27T09:59:00Z", restartedBy: "carol", revision: 0, outcome: "complete", durationSec: 60, why: "" },
    ]);
  });
});
