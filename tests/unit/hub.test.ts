// Status hub: one push per real change, bursts coalesced, re-entrant changes kept, time-driven changes (lock expiry) without polling.
import { describe, expect, test } from "bun:test";
import type { ServiceKey } from "../../src/config/file.ts";
import type { ChangeScope, ClusterView } from "../../src/kube/cluster.ts";
import { leaseName } from "../../src/kube/lock.ts";
import type { Deployment, Lease, Pod } from "../../src/kube/types.ts";
import type { ServiceStatus } from "../../src/status/model.ts";
import { makeStatusHub } from "../../src/status/hub.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };
const DB: ServiceKey = { kind: "StatefulSet", namespace: "shop", name: "db" };
const JOBS: ServiceKey = { kind: "Deployment", namespace: "ops", name: "jobs" };

function deployment(name: string, ns: string, ready: number): Deployment {
  return {
    metadata: { name, namespace: ns, generation: 2 },
    spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: {} },
    status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: ready, availableReplicas: ready },
  };
}

function fakeView() {
  const workloads = new Map<string, Deployment>();
  const leases = new Map<string, Lease>();
  const pods: Pod[] = [];
  const podReads = { n: 0 };
  const change: ((s: ChangeScope) => void)[] = [];
  const conn: (() => void)[] = [];
  let stale: string[] = [];
  const view: ClusterView = {
    workload: (s) => workloads.get(`${s.namespace}/${s.name}`),
    pods: () => (podReads.n++, pods),
    lease: (s) => leases.get(leaseName(s)),
    events: () => [],
    replicaSets: () => [],
    revisions: () => [],
    detailGaps: () => [],
    onChange: (h) => void change.push(h),
    onConnection: (h) => void conn.push(h),
    onForbidden: () => {},
    synced: () => true,
    workloads: () => [...workloads.values()],
    covers: () => true,
    setScopes: () => {},
    disconnected: () => stale,
    watches: () => [],
    start: async () => {},
    stop: () => {},
  };
  return {
    view,
    podReads,
    setWorkload(s: ServiceKey, ready: number) {
      workloads.set(`${s.namespace}/${s.name}`, deployment(s.name, s.namespace, ready));
      for (const h of change) h({ namespace: s.namespace, workload: { kind: s.kind, name: s.name } });
    },
    addPod(p: Pod) {
      pods.push(p);
      for (const h of change) h({ namespace: p.metadata!.namespace, podLabels: [p.metadata!.labels ?? {}] });
    },
    setLease(s: ServiceKey, l: Lease | undefined) {
      if (l) leases.set(leaseName(s), l);
      else leases.delete(leaseName(s));
      for (const h of change) h({ lease: leaseName(s) });
    },
    setStale(list: string[]) {
      stale = list;
      for (const h of conn) h();
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("status hub", () => {
  test("pushes a service once per real change, and only the services of the changed namespace", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB, DB, JOBS], timeoutSec: 300 });
    const seen: ServiceStatus[] = [];
    hub.onStatus((s) => seen.push(s));
    f.setWorkload(WEB, 2);
    f.setWorkload(JOBS, 2);
    hub.refresh();
    await tick();
    expect(seen.map((s) => s.service.name).sort()).toEqual(["db", "jobs", "web"]);
    seen.length = 0;
    f.setWorkload(WEB, 1);
    await tick();
    expect(seen.map((s) => `${s.service.name}:${s.ready}`)).toEqual(["web:1"]);
    seen.length = 0;
    f.setWorkload(WEB, 1); // same content again: nothing to push
    await tick();
    expect(seen).toEqual([]);
    expect(hub.current(WEB)?.ready).toBe(1);
    expect(hub.all().length).toBe(3);
    hub.stop();
  });

  test("mark/changedSince: a page rendered at a mark asks only for services changed after it; a mark of another run gets everything", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB, DB], timeoutSec: 300 });
    f.setWorkload(WEB, 2);
    hub.refresh();
    await tick();
    const mark = hub.mark();
    expect(hub.changedSince(WEB, mark)).toBe(false);
    expect(hub.changedSince(DB, mark)).toBe(false);
    f.setWorkload(WEB, 1);
    await tick();
    expect(hub.changedSince(WEB, mark)).toBe(true);
    expect(hub.changedSince(DB, mark)).toBe(false);
    expect(hub.changedSince(DB, "otherrun.99999")).toBe(true);
    expect(hub.changedSince(DB, "garbage")).toBe(true);
    hub.stop();
  });

  test("touched services are reported even when their status did not change (details may have)", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB, DB], timeoutSec: 300 });
    f.setWorkload(WEB, 2);
    hub.refresh();
    await tick();
    const touched: string[][] = [];
    hub.onTouched((b) => touched.push(b.map((s) => s.name)));
    f.setWorkload(WEB, 2);
    await tick();
    expect(touched).toEqual([["web"]]);
    hub.stop();
  });

  test("a pod event recomputes only the services whose selector takes the pod", async () => {
    const f = fakeView();
    const API: ServiceKey = { kind: "Deployment", namespace: "shop", name: "api" };
    const hub = makeStatusHub({ view: f.view, services: [WEB, API], timeoutSec: 300 });
    f.setWorkload(WEB, 2);
    f.setWorkload(API, 2);
    hub.refresh();
    await tick();
    const seen: string[] = [];
    hub.onStatus((s) => seen.push(`${s.service.name}:${JSON.stringify(s.podStatus)}`));
    const reads = f.podReads.n;
    f.addPod({ metadata: { name: "web-1", namespace: "shop", labels: { app: "web" } }, status: { phase: "Running" } });
    await tick();
    expect(seen).toEqual(['web:{"Running":1}']);
    expect(f.podReads.n - reads).toBe(1); // api was not recomputed at all
    hub.stop();
  });

  test("a burst of events in one tick becomes one push", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB], timeoutSec: 300 });
    hub.refresh();
    await tick();
    const seen: ServiceStatus[] = [];
    hub.onStatus((s) => seen.push(s));
    f.setWorkload(WEB, 0);
    f.setWorkload(WEB, 1);
    f.setWorkload(WEB, 2);
    await tick();
    expect(seen.map((s) => s.ready)).toEqual([2]);
    hub.stop();
  });

  test("a change made by a listener during a push is not lost (in-process lock released synchronously)", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB], timeoutSec: 300 });
    const now = Date.now();
    const held: Lease = { metadata: { name: leaseName(WEB) }, spec: { holderIdentity: "me", leaseDurationSeconds: 300, renewTime: new Date(now).toISOString() as never } };
    const seen: ServiceStatus[] = [];
    hub.onStatus((s) => {
      seen.push(s);
      if (s.lock) f.setLease(WEB, undefined); // release from inside the listener
    });
    f.setWorkload(WEB, 2);
    f.setLease(WEB, held);
    hub.refresh();
    await tick();
    await tick();
    expect(seen.map((s) => s.lock !== null)).toEqual([true, false]);
    expect(hub.current(WEB)?.lock).toBeNull();
    hub.stop();
  });

  test("a lock that expires is pushed as unlocked when it expires, with no event from the cluster", async () => {
    const f = fakeView();
    // Hand-driven time: the hub arms one timer for the expiry; firing it is "time passing".
    let now = Date.parse("2025-03-01T10:00:00Z");
    const armed: { f: () => void; at: number }[] = [];
    const timers = { now: () => now, setTimeout: (fn: () => void, ms: number) => armed.push({ f: fn, at: now + ms }), clearTimeout: () => {} };
    const hub = makeStatusHub({ view: f.view, services: [WEB], timeoutSec: 300, timers });
    const seen: ServiceStatus[] = [];
    hub.onStatus((s) => seen.push(s));
    f.setWorkload(WEB, 2);
    f.setLease(WEB, { metadata: { name: leaseName(WEB) }, spec: { holderIdentity: "me", leaseDurationSeconds: 1, renewTime: new Date(now).toISOString() as never } });
    hub.refresh();
    await tick();
    expect(hub.current(WEB)?.lock).not.toBeNull();
    // One timer, due just after the Lease's expiry (renewTime + 1 s).
    const due = armed.at(-1)!;
    expect(due.at - Date.parse("2025-03-01T10:00:01Z")).toBeGreaterThanOrEqual(0);
    expect(due.at - Date.parse("2025-03-01T10:00:01Z")).toBeLessThan(1000);
    now = due.at;
    due.f();
    await tick();
    expect(hub.current(WEB)?.lock).toBeNull();
    expect(seen.at(-1)?.lock).toBeNull();
    hub.stop();
  });

  test("a service the app may not watch is shown as unknown with the reason, never as missing", async () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB, JOBS], timeoutSec: 300, unwatchable: new Map([["Deployment/ops/jobs", "the app may not watch this service: missing list deployments.apps in namespace ops"]]) });
    f.setWorkload(WEB, 2);
    hub.refresh();
    await tick();
    expect(hub.current(JOBS)?.rollout).toBe("unknown");
    expect(hub.current(JOBS)?.message).toContain("may not watch");
    expect(hub.current(WEB)?.rollout).toBe("complete");
    hub.stop();
  });

  test("connection changes reach the listeners with the list of stale watches", () => {
    const f = fakeView();
    const hub = makeStatusHub({ view: f.view, services: [WEB], timeoutSec: 300 });
    const got: string[][] = [];
    hub.onConnection((s) => got.push(s));
    f.setStale(["/api/v1/namespaces/shop/pods (ECONNREFUSED)"]);
    f.setStale([]);
    expect(got).toEqual([["/api/v1/namespaces/shop/pods (ECONNREFUSED)"], []]);
    expect(hub.stale()).toEqual([]);
    hub.stop();
  });

  test("waitForSettled: at once when nothing rolls; otherwise when the rollout settles, whoever started it; timeout by the injected timer", async () => {
    const f = fakeView();
    const armed: { f: () => void; ms: number }[] = [];
    const timers = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => armed.push({ f: fn, ms }), clearTimeout: () => {} };
    const hub = makeStatusHub({ view: f.view, services: [WEB, JOBS], timeoutSec: 300, timers });
    f.setWorkload(WEB, 2);
    f.setWorkload(JOBS, 2);
    hub.refresh();
    await tick();
    expect((await hub.waitForSettled(WEB, 5000)).outcome).toBe("complete");

    // Someone else's rollout: one of two new replicas updated.
    const rolling = deployment("web", "shop", 1);
    rolling.status!.updatedReplicas = 1;
    f.view.workload = (s) => (s.name === "web" ? rolling : deployment(s.name, s.namespace, 2));
    f.setWorkload(JOBS, 2); // any event; the view now answers the rolling web
    hub.refresh();
    await tick();
    expect(hub.current(WEB)?.rollout).toBe("progressing");
    let settled: { outcome: string } | undefined;
    void hub.waitForSettled(WEB, 5000).then((w) => (settled = w));
    await tick();
    expect(settled).toBeUndefined();
    // A lock (a restart in flight) keeps it unsettled even when the rollout looks complete.
    f.view.workload = (s) => deployment(s.name, s.namespace, 2);
    f.setLease(WEB, { metadata: { name: leaseName(WEB) }, spec: { holderIdentity: "me", leaseDurationSeconds: 60, renewTime: new Date().toISOString() as never } });
    await tick();
    expect(settled).toBeUndefined();
    f.setLease(WEB, undefined);
    await tick();
    expect(settled?.outcome).toBe("complete");

    // Still rolling when the timer fires: timeout.
    f.view.workload = (s) => (s.name === "web" ? rolling : deployment(s.name, s.namespace, 2));
    hub.refresh();
    await tick();
    const late = hub.waitForSettled(WEB, 1234);
    const timer = armed.find((a) => a.ms === 1234)!;
    timer.f();
    expect((await late).outcome).toBe("timeout");
    hub.stop();
  });
});
