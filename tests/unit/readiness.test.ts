// Covers src/status/readiness.ts: the three readiness states with their reasons, and the log of configured services absent from the cluster.
import { describe, expect, test } from "bun:test";
import type { ServiceKey } from "../../src/config/file.ts";
import type { StatusHub, StatusListener } from "../../src/status/hub.ts";
import type { ServiceStatus } from "../../src/status/model.ts";
import { logAbsence, readinessOf } from "../../src/status/readiness.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };
const GHOST: ServiceKey = { kind: "StatefulSet", namespace: "shop", name: "ghost" };
const st = (service: ServiceKey, rollout: ServiceStatus["rollout"]) => ({ service, rollout }) as ServiceStatus;
const hubOf = (all: ServiceStatus[]) => ({ all: () => all });
const view = (synced: boolean, disconnected: string[] = []) => ({ synced: () => synced, disconnected: () => disconnected });

describe("readinessOf", () => {
  test.each([
    ["before the first sync: not ready", view(false), [], [], { state: "not ready", reasons: ["watch caches have not synced yet"] }],
    ["all well: ok", view(true), [], [st(WEB, "complete")], { state: "ok", reasons: [] }],
    ["a watch down: degraded", view(true, ["/api/v1/namespaces/shop/pods (ECONNREFUSED)"]), [], [], { state: "degraded", reasons: ["watch disconnected: /api/v1/namespaces/shop/pods (ECONNREFUSED)"] }],
    ["missing rights: degraded", view(true), ["cannot create Events in: shop"], [], { state: "degraded", reasons: ["cannot create Events in: shop"] }],
    ["a configured service absent: degraded", view(true), [], [st(WEB, "complete"), st(GHOST, "missing")], { state: "degraded", reasons: ["configured but absent from the cluster: StatefulSet/shop/ghost"] }],
  ] as const)("%s", (_l, v, access, all, expected) => {
    expect(readinessOf(v, [...access], hubOf([...all]))).toEqual(expected as never);
  });

  // Merged with issue 15: the self-check never answered, or every watch down, means not ready (503).
  const watching = (connected: boolean[], disconnected: string[]) => ({ synced: () => true, disconnected: () => disconnected, watches: () => connected.map((c) => ({ connected: c })) });
  test.each([
    ["one of two watches down: degraded", watching([true, false], ["/p (x)"]), true, { state: "degraded", reasons: ["watch disconnected: /p (x)"] }],
    ["every watch down: not ready", watching([false, false], ["/d (x)", "/p (x)"]), true, { state: "not ready", reasons: ["every watch is down", "watch disconnected: /d (x)", "watch disconnected: /p (x)"] }],
    ["self-check never answered: not ready", watching([true], []), false, { state: "not ready", reasons: ["permission self-check failed: timeout"] }],
  ] as const)("%s", (_l, v, checked, expected) => {
    const access = checked ? [] : ["permission self-check failed: timeout"];
    expect(readinessOf(v, access, hubOf([st(WEB, "complete")]), checked)).toEqual(expected as never);
  });
});

describe("logAbsence", () => {
  test("logs the absent services once synced, then each that goes or comes back; nothing before the sync", () => {
    const listeners: StatusListener[] = [];
    const hub = { onStatus: (l: StatusListener) => (listeners.push(l), () => {}), onRemoved: () => {} } as unknown as StatusHub;
    const logs: [string, string, unknown][] = [];
    const a = logAbsence(hub, (level, msg, fields) => void logs.push([level, msg, fields]));
    const push = (s: ServiceStatus) => listeners.forEach((l) => l(s));
    push(st(WEB, "complete"));
    push(st(GHOST, "missing"));
    expect(logs).toEqual([]);
    a.synced();
    expect(logs).toEqual([["warn", "configured services absent from the cluster", { services: ["StatefulSet/shop/ghost"] }]]);
    push(st(GHOST, "missing"));
    push(st(GHOST, "progressing"));
    push(st(WEB, "missing"));
    expect(logs.slice(1)).toEqual([
      ["info", "configured service is present in the cluster again", { service: "StatefulSet/shop/ghost" }],
      ["warn", "configured service is absent from the cluster", { service: "Deployment/shop/web" }],
    ]);
  });
});

describe("readiness with issue 12's service set", () => {
  const watching = (connected: boolean[], disconnected: string[]) => ({ synced: () => true, disconnected: () => disconnected, watches: () => connected.map((c) => ({ connected: c })) });
  test("a service that left the set (reload, selector) is forgotten: when it is configured again and absent, it is logged again", () => {
    const listeners: StatusListener[] = [];
    const removed: ((s: ServiceKey) => void)[] = [];
    const hub = { onStatus: (l: StatusListener) => (listeners.push(l), () => {}), onRemoved: (l: (s: ServiceKey) => void) => removed.push(l) } as unknown as StatusHub;
    const logs: [string, string, unknown][] = [];
    const a = logAbsence(hub, (level, msg, fields) => void logs.push([level, msg, fields]));
    a.synced();
    listeners.forEach((l) => l(st(GHOST, "missing")));
    removed.forEach((l) => l(GHOST));
    listeners.forEach((l) => l(st(GHOST, "missing")));
    expect(logs.filter(([, msg]) => msg === "configured service is absent from the cluster")).toHaveLength(2);
  });

  test("the config-reload line degrades readiness next to issue 10's reasons; not ready still wins", () => {
    const reload = "degraded: config.yaml: services[0].kind: expected Deployment, StatefulSet or DaemonSet, got \"Pod\" (the previous services file stays in use)";
    expect(readinessOf(watching([true], []), [reload], hubOf([st(WEB, "complete")]))).toEqual({ state: "degraded", reasons: [reload] });
    expect(readinessOf(watching([true], []), [reload], hubOf([st(GHOST, "missing")]))).toEqual({ state: "degraded", reasons: [reload, "configured but absent from the cluster: StatefulSet/shop/ghost"] });
    expect(readinessOf(watching([true], []), [reload], hubOf([]), false).state).toBe("not ready");
  });
});
