// Covers src/status/model.ts (podPhases, podsOf, serviceStatus), lockFromLease (kube/lock.ts), wireStatus (http/render.ts) and src/status/selector.ts.
import type { ServiceStatus } from "../../src/status/model.ts";
import { describe, expect, test } from "bun:test";
import type { V1LabelSelector } from "@kubernetes/client-node";
import type { Deployment, Lease, Pod } from "../../src/kube/types.ts";
import { RESTARTED_AT, RESTARTED_BY } from "../../src/kube/types.ts";
import { wireStatus } from "../../src/http/render.ts";
import { LOCK_GENERATION, LOCK_USER, lockFromLease } from "../../src/kube/lock.ts";
import { podPhases, podsOf, serviceStatus } from "../../src/status/model.ts";
import { matchesSelector } from "../../src/status/selector.ts";

const NOW = Date.parse("2025-03-01T10:00:30Z");

function pod(name: string, o: { ns?: string; labels?: Record<string, string>; phase?: string; deleting?: boolean; ready?: boolean } = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: o.ns ?? "shop",
      labels: o.labels ?? { app: "web", "pod-template-hash": "7d9f8c6b5" },
      ...(o.deleting ? { deletionTimestamp: new Date("2025-03-01T10:00:20Z"), deletionGracePeriodSeconds: 30 } : {}),
    },
    spec: { containers: [{ name: "app", image: "nginx:1.27" }] },
    status: {
      ...(o.phase === undefined ? {} : { phase: o.phase }),
      ...(o.ready === undefined ? {} : { conditions: [{ type: "Ready", status: o.ready ? "True" : "False" }] }),
    },
  };
}

function deployment(selector: V1LabelSelector | undefined, annotations: Record<string, string> = {}): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", generation: 2 },
    spec: {
      replicas: 2,
      selector: selector as V1LabelSelector,
      template: { metadata: { labels: { app: "web" }, annotations }, spec: { containers: [] } },
    },
    status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
  };
}

function lease(spec: Partial<NonNullable<Lease["spec"]>>, annotations: Record<string, string> = {}): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "restart.deployment.shop.web", namespace: "default", resourceVersion: "12", annotations },
    spec: spec as Lease["spec"],
  };
}

describe("matchesSelector", () => {
  const labels = { app: "web", tier: "frontend", track: "stable" };
  test.each([
    ["matchLabels all equal", { matchLabels: { app: "web", tier: "frontend" } }, true],
    ["matchLabels one differs", { matchLabels: { app: "web", tier: "backend" } }, false],
    ["matchLabels key absent", { matchLabels: { release: "v1" } }, false],
    ["In matches", { matchExpressions: [{ key: "tier", operator: "In", values: ["frontend", "edge"] }] }, true],
    ["In value not listed", { matchExpressions: [{ key: "tier", operator: "In", values: ["backend"] }] }, false],
    ["In key absent", { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }, false],
    ["NotIn value listed", { matchExpressions: [{ key: "track", operator: "NotIn", values: ["stable"] }] }, false],
    ["NotIn value not listed", { matchExpressions: [{ key: "track", operator: "NotIn", values: ["canary"] }] }, true],
    ["NotIn key absent", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
    ["Exists present", { matchExpressions: [{ key: "app", operator: "Exists" }] }, true],
    ["Exists absent", { matchExpressions: [{ key: "zone", operator: "Exists" }] }, false],
    ["DoesNotExist absent", { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, true],
    ["DoesNotExist present", { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, false],
    ["unknown operator", { matchExpressions: [{ key: "app", operator: "Gt", values: ["1"] }] }, false],
    ["labels and expressions both hold", { matchLabels: { app: "web" }, matchExpressions: [{ key: "track", operator: "In", values: ["stable"] }] }, true],
    ["labels hold, expression fails", { matchLabels: { app: "web" }, matchExpressions: [{ key: "track", operator: "In", values: ["canary"] }] }, false],
    ["empty selector", {}, false],
    ["empty lists", { matchLabels: undefined, matchExpressions: [] }, false],
  ] as [string, V1LabelSelector, boolean][])("%s", (_label, sel, expected) => {
    expect(matchesSelector(sel, labels)).toBe(expected);
  });

  test("an absent selector matches nothing", () => {
    expect(matchesSelector(undefined, labels)).toBe(false);
  });

  test("a pod without labels only matches negative expressions", () => {
    expect(matchesSelector({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, undefined)).toBe(true);
    expect(matchesSelector({ matchLabels: { app: "web" } }, undefined)).toBe(false);
  });
});

describe("podPhases", () => {
  test("counts phases, deleting pods as Terminating and phase-less ones as Unknown", () => {
    const pods = [
      pod("a", { phase: "Running" }),
      pod("b", { phase: "Running" }),
      pod("c", { phase: "Pending" }),
      pod("d", { phase: "Running", deleting: true }),
      pod("e"),
      pod("f", { phase: "Failed" }),
    ];
    expect(podPhases(pods)).toEqual({ Running: 2, Pending: 1, Terminating: 1, Unknown: 1, Failed: 1 });
  });

  test("no pods → empty", () => {
    expect(podPhases([])).toEqual({});
  });
});

describe("podsOf", () => {
  const pods = [
    pod("web-1", { phase: "Running" }),
    pod("web-2", { phase: "Running", labels: { app: "web", track: "canary" } }),
    pod("api-1", { phase: "Running", labels: { app: "api" } }),
    pod("web-other-ns", { phase: "Running", ns: "staging" }),
  ];
  const names = (ps: Pod[]) => ps.map((p) => p.metadata!.name);

  test("matchLabels selects same-namespace pods only", () => {
    expect(names(podsOf(deployment({ matchLabels: { app: "web" } }), pods))).toEqual(["web-1", "web-2"]);
  });

  test("matchExpressions narrow the selection", () => {
    const sel = { matchLabels: { app: "web" }, matchExpressions: [{ key: "track", operator: "NotIn", values: ["canary"] }] };
    expect(names(podsOf(deployment(sel), pods))).toEqual(["web-1"]);
    const any = { matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }] };
    expect(names(podsOf(deployment(any), pods))).toEqual(["web-1", "web-2", "api-1"]);
  });

  test("no workload or an empty selector → no pods", () => {
    expect(podsOf(undefined, pods)).toEqual([]);
    expect(podsOf(deployment({}), pods)).toEqual([]);
    expect(podsOf(deployment(undefined), pods)).toEqual([]);
  });
});

describe("lockFromLease", () => {
  const renewed = "2025-03-01T10:00:00.000000Z";

  test("held: a holder within its duration", () => {
    const l = lease(
      { holderIdentity: "pod-a-1/req-1", leaseDurationSeconds: 300, acquireTime: renewed as never, renewTime: renewed as never },
      { [LOCK_GENERATION]: "7", [LOCK_USER]: "alice" },
    );
    expect(lockFromLease(l, NOW)).toEqual({
      holder: "pod-a-1/req-1",
      since: "2025-03-01T10:00:00.000Z",
      expiresAt: "2025-03-01T10:05:00.000Z",
      generation: 7,
      user: "alice",
    });
  });

  test("held without annotations: no generation, no user", () => {
    const l = lease({ holderIdentity: "h", leaseDurationSeconds: 60, renewTime: renewed as never });
    const lock = lockFromLease(l, NOW);
    expect(lock?.generation).toBeUndefined();
    expect(lock?.user).toBeUndefined();
    expect(lock?.since).toBe("2025-03-01T10:00:00.000Z");
  });

  test.each([
    ["expired", { holderIdentity: "h", leaseDurationSeconds: 30, renewTime: renewed }],
    ["expires exactly now", { holderIdentity: "h", leaseDurationSeconds: 30, renewTime: "2025-03-01T10:00:00Z" }],
    ["released (empty holder)", { holderIdentity: "", leaseDurationSeconds: 300, renewTime: renewed }],
    ["no holder", { leaseDurationSeconds: 300, renewTime: renewed }],
    ["no times", { holderIdentity: "h", leaseDurationSeconds: 300 }],
    ["no duration", { holderIdentity: "h", renewTime: renewed }],
  ] as [string, Record<string, unknown>][])("%s → not locked", (_label, spec) => {
    expect(lockFromLease(lease(spec), NOW)).toBeNull();
  });

  test("no lease → not locked", () => {
    expect(lockFromLease(undefined, NOW)).toBeNull();
  });

  test.each(["0", "-1", "abc", ""])("generation annotation %p is ignored", (g) => {
    const l = lease({ holderIdentity: "h", leaseDurationSeconds: 300, renewTime: renewed as never }, { [LOCK_GENERATION]: g });
    expect(lockFromLease(l, NOW)?.generation).toBeUndefined();
  });
});

describe("serviceStatus and wireStatus", () => {
  const key = { kind: "Deployment" as const, namespace: "shop", name: "web" };
  const w = deployment({ matchLabels: { app: "web" } }, { [RESTARTED_AT]: "2025-03-01T09:59:00Z", [RESTARTED_BY]: "alice" });
  const pods = [pod("web-1", { phase: "Running" }), pod("web-2", { phase: "Pending" }), pod("api-1", { phase: "Running", labels: { app: "api" } })];
  const held = lease({ holderIdentity: "h", leaseDurationSeconds: 300, renewTime: "2025-03-01T10:00:00Z" as never }, { [LOCK_USER]: "alice" });

  test("serviceStatus combines rollout, pods, annotations and lock", () => {
    const s = serviceStatus(key, w, pods, held, NOW, 300);
    expect(s).toMatchObject({
      service: key,
      rollout: "complete",
      message: 'deployment "web" successfully rolled out',
      desired: 2,
      ready: 2,
      updated: 2,
      podStatus: { Running: 1, Pending: 1 },
      lastRestart: "2025-03-01T09:59:00Z",
      restartedBy: "alice",
    });
    expect(s.lock?.user).toBe("alice");
  });

  test("wireStatus keeps the original keys and shapes", () => {
    const wire = wireStatus(serviceStatus(key, w, pods, held, NOW, 300));
    expect(Object.keys(wire)).toEqual(expect.arrayContaining(["kind_namespace_name", "status", "is_locked"]));
    expect(wire.kind_namespace_name).toEqual({ kind: "Deployment", namespace: "shop", name: "web" });
    expect(Object.keys(wire.kind_namespace_name).sort()).toEqual(["kind", "name", "namespace"]);
    // The original's meaning: empty when all is well; the kubectl-style text in its own field.
    expect(wire.status.message).toBe("");
    expect(wire.status.rollout_message).toBe('deployment "web" successfully rolled out');
    expect(wire.status.pod_status).toEqual({ Running: 1, Pending: 1 });
    expect(wire.status.last_restart).toBe("2025-03-01T09:59:00Z");
    expect(wire.is_locked).toBe(true);
    expect(wire.lock).toEqual({ since: "2025-03-01T10:00:00.000Z", expires_at: "2025-03-01T10:05:00.000Z", user: "alice" });
  });

  test("wireStatus: message carries the problem for failed, missing and unknown, and is empty otherwise", () => {
    const base = serviceStatus(key, w, pods, undefined, NOW, 300);
    const cases: [ServiceStatus["rollout"], string][] = [
      ["complete", ""],
      ["progressing", ""],
      ["paused", ""],
      ["failed", "the text"],
      ["missing", "the text"],
      ["unknown", "the text"],
    ];
    for (const [rollout, message] of cases) {
      const wire = wireStatus({ ...base, rollout, message: "the text" });
      expect([rollout, wire.status.message, wire.status.rollout_message]).toEqual([rollout, message, "the text"]);
    }
  });

  test("pods_ready counts this workload's Ready pods that are not terminating, straight from the pods", () => {
    const mixed = [
      pod("web-1", { phase: "Running", ready: true }),
      pod("web-2", { phase: "Running", ready: false }),
      pod("web-3", { phase: "Running", ready: true, deleting: true }),
      pod("web-4", { phase: "Pending" }),
      pod("api-1", { phase: "Running", ready: true, labels: { app: "api" } }),
    ];
    const s = serviceStatus(key, w, mixed, undefined, NOW, 300);
    expect(s.podsReady).toBe(1);
    expect(wireStatus(s).status.pods_ready).toBe(1);
  });

  test("wireStatus of a missing, unlocked service", () => {
    const wire = wireStatus(serviceStatus(key, undefined, pods, undefined, NOW, 300));
    expect(wire.is_locked).toBe(false);
    expect(wire.lock).toBeNull();
    expect(wire.status).toMatchObject({ message: "Deployment not found in the cluster", pod_status: {}, last_restart: "", rollout: "missing" });
    // JSON round trip: the wire value is plain data.
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
  });
});
