// Covers src/kube/permissions.ts (the self-check retried and re-run) and the 403 handling of src/kube/watch.ts / cluster.ts (issue 15 #9).
import { afterEach, describe, expect, test } from "bun:test";
import type { AccessReport } from "../../src/kube/access.ts";
import { KubeError, type KubeClient, type KubeRequest } from "../../src/kube/client.ts";
import { makePermissionMonitor, type PermissionMonitor } from "../../src/kube/permissions.ts";
import { WatchCache } from "../../src/kube/watch.ts";

const report = (unusable: [string, string[]][] = [], unwatchable: [string, string][] = [], missingLeases: string[] = []): AccessReport => ({
  unusable: new Map(unusable),
  unwatchable: new Map(unwatchable),
  missingLeases,
  missingEvents: [],
  missingDetails: [],
});
const monitors: PermissionMonitor[] = [];
afterEach(() => monitors.splice(0).forEach((m) => m.stop()));

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

describe("the permission self-check", () => {
  test("an unreachable API server at start: retried with backoff until it succeeds, never assumed to grant everything", async () => {
    const answers: (AccessReport | Error)[] = [new Error("connect ECONNREFUSED"), new Error("no answer within 10s"), report([["Deployment/shop/web", ["patch deployments.apps/web in namespace shop"]]])];
    const delays: number[] = [];
    const m = makePermissionMonitor({
      check: async () => {
        const a = answers.shift()!;
        if (a instanceof Error) throw a;
        return a;
      },
      backoff: (n) => (n + 1) * 10,
      sleep: async (ms) => void delays.push(ms),
    });
    monitors.push(m);
    expect(m.checked()).toBe(false);
    const r = await m.first();
    expect(delays).toEqual([10, 20]);
    expect(m.checked()).toBe(true);
    expect(m.lastError()).toBe("");
    expect([...r.unusable.keys()]).toEqual(["Deployment/shop/web"]);
  });

  test("until then, lastError says why", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const m = makePermissionMonitor({ check: async () => Promise.reject(new Error("connect ECONNREFUSED")), sleep: () => gate, backoff: () => 1 });
    monitors.push(m);
    await until("first failure", () => m.lastError() !== "");
    expect(m.lastError()).toBe("connect ECONNREFUSED");
    expect(m.checked()).toBe(false);
    m.stop();
    release();
  });

  test("a 403 re-runs it; the report's maps change in place and listeners are told; 403s during a check are merged into one more run", async () => {
    const results = [report(), report([["Deployment/shop/web", ["patch"]]], [["Deployment/shop/web", "may not watch"]], ["create leases"])];
    let calls = 0;
    let t = 0;
    const m = makePermissionMonitor({ check: async () => results[Math.min(calls++, results.length - 1)]!, sleep: async () => {}, now: () => t });
    monitors.push(m);
    const r = await m.first();
    const unusable = r.unusable;
    const changes: number[] = [];
    m.onChange(() => changes.push(calls));
    t = 10_000;
    m.recheck("patch Deployment shop/web: 403");
    m.recheck("watch: 403");
    await until("re-run", () => changes.length === 1);
    expect(m.report.unusable).toBe(unusable);
    expect([...unusable.keys()]).toEqual(["Deployment/shop/web"]);
    expect(m.report.unwatchable.get("Deployment/shop/web")).toBe("may not watch");
    expect(m.report.missingLeases).toEqual(["create leases"]);
    await Bun.sleep(20);
    expect(calls).toBeLessThanOrEqual(3);
  });

  test("re-runs are spaced by the minimum interval", async () => {
    const sleeps: number[] = [];
    let t = 0;
    const m = makePermissionMonitor({ check: async () => report(), sleep: async (ms) => void sleeps.push(ms), now: () => t, minRecheckIntervalMs: 5000 });
    monitors.push(m);
    await m.first();
    t = 1000;
    m.recheck("403");
    await Bun.sleep(5);
    expect(sleeps).toEqual([4000]);
  });
});

describe("a watch answered 403", () => {
  class ForbiddenKube implements KubeClient {
    readonly server = "https://fake.invalid";
    async request<T>(_req: KubeRequest, what: string): Promise<T> {
      throw new KubeError(403, "Forbidden", 'deployments.apps is forbidden: User "x" cannot list resource "deployments"', what);
    }
    async stream(): Promise<Response> {
      const status = { kind: "Status", code: 403, reason: "Forbidden", message: 'deployments.apps is forbidden: User "x" cannot watch resource "deployments"' };
      return new Response(JSON.stringify(status), { status: 403 });
    }
  }

  test("counts as settled (start resolves, never 'not yet synced' forever), is flagged forbidden, and tells its listeners", async () => {
    const cache = new WatchCache(new ForbiddenKube(), { path: "/apis/apps/v1/namespaces/secret/deployments", backoff: () => 50 });
    let told = 0;
    cache.onForbidden(() => told++);
    try {
      await cache.start();
      expect(cache.synced).toBe(false);
      expect(cache.forbidden).toBe(true);
      expect(told).toBeGreaterThanOrEqual(1);
      expect(cache.lastError).toContain("403 Forbidden");
    } finally {
      cache.stop();
    }
  });
});
