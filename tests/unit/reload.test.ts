// Live reload: a valid file replaces the services and the watch scopes; an invalid one is refused, counted and reported while the old one stays; the hub follows added and removed services.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../../src/config/file.ts";
import type { AccessReport } from "../../src/kube/access.ts";
import type { ChangeScope, ClusterView, WatchScope } from "../../src/kube/cluster.ts";
import { cacheKeys, detailKeys } from "../../src/kube/cluster.ts";
import type { Workload } from "../../src/kube/types.ts";
import { makeStatusHub } from "../../src/status/hub.ts";
import type { ServiceStatus } from "../../src/status/model.ts";
import { makeReloader, watchScopes } from "../../src/status/reload.ts";
import { makeServiceSet } from "../../src/status/service-set.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));
const emptyAccess = (): AccessReport => ({ unusable: new Map(), unwatchable: new Map(), missingLeases: [], missingEvents: [], missingDetails: [] });

function fakeView(): ClusterView & { scopes: WatchScope[][]; fire(s: ChangeScope): void } {
  const handlers: ((s: ChangeScope) => void)[] = [];
  const scopes: WatchScope[][] = [];
  return {
    scopes,
    fire: (s) => handlers.forEach((h) => h(s)),
    workload: (s) => ({ metadata: { name: s.name, namespace: s.namespace, generation: 1 }, spec: { replicas: 1 }, status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } }) as Workload,
    workloads: () => [],
    pods: () => [],
    lease: () => undefined,
    covers: () => true,
    events: () => [],
    replicaSets: () => [],
    revisions: () => [],
    detailGaps: () => [],
    onChange: (h) => void handlers.push(h),
    onConnection: () => {},
    onForbidden: () => {},
    synced: () => true,
    disconnected: () => [],
    watches: () => [],
    setScopes: (s) => void scopes.push(s),
    start: async () => {},
    stop: () => {},
  };
}

describe("reloader", () => {
  const dir = mkdtempSync(join(tmpdir(), "reload-unit-"));
  const path = join(dir, "config.yaml");
  const v1 = `services:\n  - {kind: Deployment, namespace: shop, name: web}\n`;
  const v2 = `services:\n  - {kind: Deployment, namespace: shop, name: web}\n  - {kind: StatefulSet, namespace: billing, name: ledger}\n`;

  function setup(check = async () => emptyAccess()) {
    writeFileSync(path, v1);
    const set = makeServiceSet(parseConfigText(v1, path));
    const view = fakeView();
    const failures = { n: 0, inc() { this.n++; } };
    const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const r = makeReloader({ path, text: v1, set, view, access: emptyAccess(), check, failures, log: (level, msg, fields) => void logs.push({ level, msg, fields }) });
    return { set, view, failures, logs, r };
  }

  test("a valid change replaces the services and the watch scopes; an unchanged file does nothing", async () => {
    const { set, view, r, logs } = setup();
    await r.reload("test");
    expect(view.scopes).toEqual([]); // same text: nothing to do
    writeFileSync(path, v2);
    await r.reload("test");
    expect(set.current().services.map((s) => s.name)).toEqual(["web", "ledger"]);
    expect(view.scopes.at(-1)).toEqual([{ kind: "Deployment", namespace: "shop" }, { kind: "StatefulSet", namespace: "billing" }]);
    expect(r.problem.current()).toBe("");
    expect(logs.at(-1)?.msg).toBe("config reloaded");
    r.stop();
  });

  test("an invalid file is refused once: old services stay, the problem names the path, the failure is counted; a fix clears it", async () => {
    const { set, r, failures, logs } = setup();
    const seen: string[] = [];
    r.problem.onChange((t) => seen.push(t));
    writeFileSync(path, `services:\n  - {kind: Deployment, namespace: shop}\n`);
    await r.reload("test");
    await r.reload("test"); // the same bad file again (a poll): not counted twice
    expect(set.current().services.map((s) => s.name)).toEqual(["web"]);
    expect(failures.n).toBe(1);
    expect(r.problem.current()).toBe(`${path}: services[0].name: is required`);
    expect(logs.find((l) => l.level === "error")?.fields?.path).toBe(path);
    await r.reload("SIGHUP", true); // an operator asking again is told again
    expect(failures.n).toBe(2);
    writeFileSync(path, v2);
    await r.reload("test");
    expect(r.problem.current()).toBe("");
    expect(seen).toEqual([`${path}: services[0].name: is required`, ""]);
    r.stop();
  });

  test("services the app may not watch are left out of the scopes", () => {
    const cfg = parseConfigText(v2, path);
    const access = emptyAccess();
    access.unwatchable.set("StatefulSet/billing/ledger", "no");
    expect(watchScopes(cfg, access)).toEqual([{ kind: "Deployment", namespace: "shop" }]);
  });
});

describe("cache keys for scopes", () => {
  test("a cluster-wide scope of a kind replaces its namespaced ones, and pods become cluster-wide", () => {
    const k = cacheKeys([
      { kind: "Deployment", namespace: "shop" },
      { kind: "Deployment", namespace: "*" },
      { kind: "StatefulSet", namespace: "shop" },
    ]);
    expect([...k.workloads].sort()).toEqual(["Deployment/*", "StatefulSet/shop"]);
    expect([...k.pods]).toEqual(["*"]);
    expect([...cacheKeys([{ kind: "Deployment", namespace: "a" }, { kind: "DaemonSet", namespace: "b" }]).pods]).toEqual(["a", "b"]);
  });

  test("issue 11's detail watches follow the namespaced scopes, minus the reads the self-check found missing; cluster-wide scopes get none", () => {
    const scopes = [
      { kind: "Deployment", namespace: "shop" },
      { kind: "StatefulSet", namespace: "shop" },
      { kind: "DaemonSet", namespace: "ops" },
      { kind: "Deployment", namespace: "*" },
    ] as const;
    expect([...detailKeys([...scopes], [])].sort()).toEqual(["controllerrevisions/ops", "controllerrevisions/shop", "events/ops", "events/shop", "replicasets/shop"]);
    expect([...detailKeys([...scopes], [{ resource: "events", namespace: "shop" }, { resource: "controllerrevisions", namespace: "ops" }])].sort()).toEqual([
      "controllerrevisions/shop",
      "events/ops",
      "replicasets/shop",
    ]);
    // A reload that drops a namespace drops its detail watches.
    expect([...detailKeys([{ kind: "Deployment", namespace: "shop" }], [])].sort()).toEqual(["events/shop", "replicasets/shop"]);
  });
});

describe("hub follows the service set", () => {
  test("an added service is computed and pushed; a removed one is forgotten and reported", async () => {
    const view = fakeView();
    const web = { kind: "Deployment" as const, namespace: "shop", name: "web" };
    const api = { kind: "Deployment" as const, namespace: "shop", name: "api" };
    const hub = makeStatusHub({ view, services: [web], timeoutSec: 300 });
    const pushed: ServiceStatus[] = [];
    const removed: string[] = [];
    hub.onStatus((s) => pushed.push(s));
    hub.onRemoved((s) => removed.push(s.name));
    hub.refresh();
    await tick();
    hub.updateServices({ added: [api], removed: [] });
    await tick();
    expect(pushed.map((s) => s.service.name)).toEqual(["web", "api"]);
    hub.updateServices({ added: [], removed: [web] });
    expect(removed).toEqual(["web"]);
    expect(hub.current(web)).toBeUndefined();
    expect(hub.all().map((s) => s.service.name)).toEqual(["api"]);
    view.fire({ namespace: "shop", workload: { kind: "Deployment", name: "web" } }); // events for it change nothing now
    await tick();
    expect(pushed).toHaveLength(2);
    hub.stop();
  });
});
