// Covers src/status/rollout.ts: rolloutState (kubectl rollout status rules) from real API object shapes, rolloutDeadlineMs.
import { describe, expect, test } from "bun:test";
import type { DaemonSet, Deployment, StatefulSet } from "../../src/kube/types.ts";
import { RESTARTED_AT } from "../../src/kube/types.ts";
import { rolloutDeadlineMs, rolloutState } from "../../src/status/rollout.ts";

const RESTART = "2025-03-01T10:00:00Z";
const RESTART_MS = Date.parse(RESTART);
const NOW = RESTART_MS + 30_000;

const template = (restartedAt?: string) => ({
  metadata: { labels: { app: "x" }, ...(restartedAt ? { annotations: { [RESTARTED_AT]: restartedAt } } : {}) },
  spec: { containers: [{ name: "app", image: "nginx:1.27" }] },
});

/** A Deployment as GET /apis/apps/v1/namespaces/shop/deployments/web returns it after a finished rollout. */
function deployment(o: { gen?: number; observed?: number; replicas?: number; status?: Partial<NonNullable<Deployment["status"]>>; paused?: boolean; reason?: string } = {}): Deployment {
  const replicas = o.replicas ?? 3;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", uid: "5d7c1c9e-1", resourceVersion: "4711", generation: o.gen ?? 4 },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: template(RESTART),
      progressDeadlineSeconds: 600,
      ...(o.paused ? { paused: true } : {}),
    },
    status: {
      observedGeneration: o.observed ?? o.gen ?? 4,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." },
        o.reason === "ProgressDeadlineExceeded"
          ? { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "web-7d9f" has timed out progressing.' }
          : { type: "Progressing", status: "True", reason: o.reason ?? "NewReplicaSetAvailable", message: 'ReplicaSet "web-7d9f" has successfully progressed.' },
      ],
      ...o.status,
    },
  };
}

function statefulSet(o: { gen?: number; observed?: number; replicas?: number; status?: Partial<NonNullable<StatefulSet["status"]>>; partition?: number; onDelete?: boolean; restartedAt?: string } = {}): StatefulSet {
  const replicas = o.replicas ?? 3;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "db", namespace: "shop", resourceVersion: "900", generation: o.gen ?? 2 },
    spec: {
      replicas,
      serviceName: "db",
      selector: { matchLabels: { app: "db" } },
      template: template(o.restartedAt ?? RESTART),
      updateStrategy: o.onDelete
        ? { type: "OnDelete" }
        : { type: "RollingUpdate", rollingUpdate: { partition: o.partition ?? 0, maxUnavailable: 1 } },
    },
    status: {
      observedGeneration: o.observed ?? o.gen ?? 2,
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      currentReplicas: replicas,
      updatedReplicas: replicas,
      currentRevision: "db-6c8b9f7d5c",
      updateRevision: "db-6c8b9f7d5c",
      collisionCount: 0,
      ...o.status,
    },
  };
}

function daemonSet(o: { gen?: number; observed?: number; status?: Partial<NonNullable<DaemonSet["status"]>>; onDelete?: boolean; restartedAt?: string } = {}): DaemonSet {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent", namespace: "kube-system", resourceVersion: "77", generation: o.gen ?? 5 },
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: template(o.restartedAt ?? RESTART),
      updateStrategy: o.onDelete ? { type: "OnDelete" } : { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
    },
    status: {
      observedGeneration: o.observed ?? o.gen ?? 5,
      currentNumberScheduled: 4,
      desiredNumberScheduled: 4,
      numberMisscheduled: 0,
      numberReady: 4,
      numberAvailable: 4,
      updatedNumberScheduled: 4,
      ...o.status,
    },
  };
}

describe("Deployment", () => {
  test.each([
    ["complete", deployment(), "complete", 'deployment "web" successfully rolled out'],
    ["generation not observed", deployment({ gen: 5, observed: 4 }), "progressing", "Waiting for deployment spec update to be observed..."],
    [
      "updated < desired",
      deployment({ status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 }, reason: "ReplicaSetUpdated" }),
      "progressing",
      'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    ],
    [
      "old replicas pending termination",
      deployment({ status: { replicas: 4, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 4 }, reason: "ReplicaSetUpdated" }),
      "progressing",
      'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
    ],
    [
      "available < updated",
      deployment({ status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 }, reason: "ReplicaSetUpdated" }),
      "progressing",
      'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
    ],
    [
      "ProgressDeadlineExceeded",
      deployment({ status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 }, reason: "ProgressDeadlineExceeded" }),
      "failed",
      'deployment "web" exceeded its progress deadline',
    ],
    ["paused", deployment({ paused: true, gen: 6, observed: 5 }), "paused", 'deployment "web" is paused'],
    ["scaled to zero", deployment({ replicas: 0, status: { replicas: undefined, updatedReplicas: undefined, readyReplicas: undefined, availableReplicas: undefined } }), "complete", 'deployment "web" successfully rolled out'],
  ] as const)("%s", (_label, d, state, message) => {
    const r = rolloutState("Deployment", d, NOW, 300);
    expect(r.state).toBe(state);
    expect(r.message).toBe(message);
  });

  test("reports desired, ready and updated counts", () => {
    const r = rolloutState("Deployment", deployment({ status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 } }), NOW, 300);
    expect({ desired: r.desired, ready: r.ready, updated: r.updated }).toEqual({ desired: 3, ready: 3, updated: 1 });
  });

  test("a Deployment never times out by the restart annotation: it has its own deadline", () => {
    const stuck = deployment({ status: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3 } });
    expect(rolloutState("Deployment", stuck, RESTART_MS + 3_600_000, 60).state).toBe("progressing");
    expect(rolloutDeadlineMs("Deployment", stuck, 60)).toBeUndefined();
  });
});

describe("StatefulSet", () => {
  test.each([
    ["complete", statefulSet(), "complete", "statefulset rolling update complete 3 pods at revision db-6c8b9f7d5c..."],
    ["generation not observed", statefulSet({ gen: 3, observed: 2 }), "progressing", "Waiting for statefulset spec update to be observed..."],
    ["ready < desired", statefulSet({ status: { readyReplicas: 1, updatedReplicas: 2 } }), "progressing", "Waiting for 2 pods to be ready..."],
    [
      "revision mismatch",
      statefulSet({ status: { updatedReplicas: 1, currentReplicas: 2, updateRevision: "db-59d4f8c7b6" } }),
      "progressing",
      "waiting for statefulset rolling update to complete 1 pods at revision db-59d4f8c7b6...",
    ],
    [
      "partition not yet reached",
      statefulSet({ partition: 1, status: { updatedReplicas: 1, updateRevision: "db-59d4f8c7b6" } }),
      "progressing",
      "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
    ],
    [
      "partition reached",
      statefulSet({ partition: 1, status: { updatedReplicas: 2, updateRevision: "db-59d4f8c7b6" } }),
      "complete",
      "partitioned roll out complete: 2 new pods have been updated...",
    ],
    ["OnDelete", statefulSet({ onDelete: true, status: { readyReplicas: 0 } }), "unknown", "rollout status is only available for the RollingUpdate strategy"],
  ] as const)("%s", (_label, ss, state, message) => {
    const r = rolloutState("StatefulSet", ss, NOW, 300);
    expect(r.state).toBe(state);
    expect(r.message).toBe(message);
  });
});

describe("DaemonSet", () => {
  test.each([
    ["complete", daemonSet(), "complete", 'daemon set "agent" successfully rolled out'],
    ["generation not observed", daemonSet({ gen: 6, observed: 5 }), "progressing", "Waiting for daemon set spec update to be observed..."],
    [
      "updated < desired",
      daemonSet({ status: { updatedNumberScheduled: 2, numberAvailable: 3 } }),
      "progressing",
      'Waiting for daemon set "agent" rollout to finish: 2 out of 4 new pods have been updated...',
    ],
    [
      "available < desired",
      daemonSet({ status: { numberAvailable: 3, numberUnavailable: 1, numberReady: 3 } }),
      "progressing",
      'Waiting for daemon set "agent" rollout to finish: 3 of 4 updated pods are available...',
    ],
    ["OnDelete", daemonSet({ onDelete: true }), "unknown", "rollout status is only available for the RollingUpdate strategy"],
  ] as const)("%s", (_label, ds, state, message) => {
    const r = rolloutState("DaemonSet", ds, NOW, 300);
    expect(r.state).toBe(state);
    expect(r.message).toBe(message);
  });

  test("counts come from the scheduled numbers", () => {
    const r = rolloutState("DaemonSet", daemonSet({ status: { updatedNumberScheduled: 2, numberReady: 3 } }), NOW, 300);
    expect({ desired: r.desired, ready: r.ready, updated: r.updated }).toEqual({ desired: 4, ready: 3, updated: 2 });
  });
});

describe("missing workload", () => {
  test.each(["Deployment", "StatefulSet", "DaemonSet"] as const)("%s", (kind) => {
    expect(rolloutState(kind, undefined, NOW, 300)).toEqual({ state: "missing", message: `${kind} not found in the cluster`, desired: 0, ready: 0, updated: 0 });
  });
});

describe("StatefulSet/DaemonSet timeout after the restart", () => {
  const stuckSts = statefulSet({ status: { readyReplicas: 2 } });
  const stuckDs = daemonSet({ status: { updatedNumberScheduled: 1 } });

  test.each([
    ["StatefulSet", 299_000, "progressing", stuckSts],
    ["StatefulSet", 300_000, "progressing", stuckSts],
    ["StatefulSet", 301_000, "failed", stuckSts],
    ["DaemonSet", 100_000, "progressing", stuckDs],
    ["DaemonSet", 300_001, "failed", stuckDs],
  ] as const)("%s %d ms after restart → %s", (kind, after, state, w) => {
    expect(rolloutState(kind, w, RESTART_MS + after, 300).state).toBe(state);
  });

  test("the failed message names the timeout and keeps kubectl's reason", () => {
    expect(rolloutState("StatefulSet", stuckSts, RESTART_MS + 301_000, 300).message).toBe(
      "rollout did not finish within 300s of the restart: Waiting for 1 pods to be ready...",
    );
  });

  test("a complete rollout is never turned into failed", () => {
    expect(rolloutState("StatefulSet", statefulSet(), RESTART_MS + 10_000_000, 300).state).toBe("complete");
  });

  test("without a restartedAt annotation there is no timeout", () => {
    const noAnn = statefulSet({ status: { readyReplicas: 2 } });
    delete noAnn.spec!.template.metadata!.annotations;
    expect(rolloutState("StatefulSet", noAnn, RESTART_MS + 10_000_000, 300).state).toBe("progressing");
    expect(rolloutDeadlineMs("StatefulSet", noAnn, 300)).toBeUndefined();
  });

  test("an unparsable restartedAt is ignored", () => {
    const bad = statefulSet({ restartedAt: "yesterday-ish", status: { readyReplicas: 2 } });
    expect(rolloutState("StatefulSet", bad, RESTART_MS + 10_000_000, 300).state).toBe("progressing");
    expect(rolloutDeadlineMs("StatefulSet", bad, 300)).toBeUndefined();
  });
});

describe("rolloutDeadlineMs", () => {
  test.each([
    ["StatefulSet", 300, RESTART_MS + 300_000, statefulSet()],
    ["DaemonSet", 60, RESTART_MS + 60_000, daemonSet()],
    ["Deployment", 300, undefined, deployment()],
    ["StatefulSet", 300, undefined, undefined],
  ] as const)("%s timeout %ds (#%#)", (kind, timeout, expected, w) => {
    expect(rolloutDeadlineMs(kind, w, timeout)).toBe(expected);
  });
});

