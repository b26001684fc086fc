// Covers src/kube/startup.ts: the permission monitor's first self-check and the first sync behind a listening server, against a fake KubeClient.
import { describe, expect, test } from "bun:test";
import type { KubeClient, KubeRequest } from "../../src/kube/api.ts";
import { prepareCluster } from "../../src/kube/startup.ts";

const WEB = { kind: "Deployment" as const, namespace: "shop", name: "web" };

/**
 * Answers access reviews from `allowed` (by resource) once `release()` is called, lists with
 * one empty page, and holds watch streams open without events.
 */
function fakeKube(allowed: (resource: string) => boolean) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const calls: KubeRequest[] = [];
  const client: KubeClient = {
    server: "https://fake.invalid",
    async request<T>(req: KubeRequest): Promise<T> {
      calls.push(req);
      if (req.path.endsWith("/selfsubjectaccessreviews")) {
        await gate;
        const attrs = (req.body as { spec: { resourceAttributes: { resource: string } } }).spec.resourceAttributes;
        return { status: { allowed: allowed(attrs.resource) } } as T;
      }
      return { metadata: { resourceVersion: "1" }, items: [] } as T;
    },
    async stream(req: KubeRequest): Promise<Response> {
      calls.push(req);
      const body = new ReadableStream<Uint8Array>({
        start: (c) => req.signal?.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError"))),
      });
      return new Response(body, { status: 200 });
    },
  };
  return { client, calls, release };
}

const logs: { level: string; msg: string }[] = [];
const log = (level: "info" | "warn" | "error", msg: string) => void logs.push({ level, msg });

describe("start-up behind the listener", () => {
  test("not ready, restarts' locks refused and nothing watched until the self-check has run; ready after the first sync", async () => {
    const kube = fakeKube(() => true);
    const cluster = prepareCluster({ client: kube.client, services: [WEB], lockNamespace: "locks", log });
    const started = cluster.view.start();
    await Bun.sleep(10);
    expect(cluster.view.synced()).toBe(false);
    expect(cluster.readiness()).toEqual({ ready: false, detail: ["watch caches have not synced yet", "permission self-check has not finished yet"] });
    expect(kube.calls.every((c) => c.path.endsWith("/selfsubjectaccessreviews"))).toBe(true);
    await expect(cluster.locks.acquire(WEB, "h", "u", 60, undefined)).rejects.toThrow(/self-check/);
    kube.release();
    await started;
    expect(cluster.view.synced()).toBe(true);
    expect(cluster.readiness()).toEqual({ ready: true, detail: [] });
    expect(kube.calls.some((c) => c.path === "/apis/apps/v1/namespaces/shop/deployments")).toBe(true);
    expect(kube.calls.some((c) => c.path === "/apis/coordination.k8s.io/v1/namespaces/locks/leases")).toBe(true);
    cluster.view.stop();
  });

  test("without Lease rights the locks are in-process, no Lease is watched, and /readyz says so", async () => {
    const kube = fakeKube((resource) => resource !== "leases");
    const cluster = prepareCluster({ client: kube.client, services: [WEB], lockNamespace: "locks", log });
    kube.release();
    await cluster.view.start();
    expect(kube.calls.some((c) => c.path.includes("/leases"))).toBe(false);
    expect(await cluster.locks.acquire(WEB, "h", "u", 60, undefined)).toBe(true);
    expect(cluster.view.lease(WEB)?.spec?.holderIdentity).toBe("h");
    expect(cluster.readiness().detail.join("\n")).toContain("locks are in-process only");
    cluster.view.stop();
  });

  test("a service the app may not watch is left out of the watches and reported, the rest still syncs", async () => {
    const kube = fakeKube((resource) => resource !== "pods");
    const cluster = prepareCluster({ client: kube.client, services: [WEB], lockNamespace: "locks", log });
    kube.release();
    await cluster.view.start();
    expect(cluster.access.unwatchable.get("Deployment/shop/web")).toContain("may not watch");
    expect(kube.calls.some((c) => c.path.includes("/namespaces/shop/"))).toBe(false);
    expect(cluster.readiness().ready).toBe(true);
    expect(cluster.access.unusable.get("Deployment/shop/web")?.join("; ")).toContain("pods");
    cluster.view.stop();
  });

  test("a self-check that keeps failing: start goes on with Leases after the bounded wait, not ready until a check succeeds (the monitor retries)", async () => {
    const kube = fakeKube(() => true);
    let failures = 3;
    const request = kube.client.request.bind(kube.client);
    const client = {
      ...kube.client,
      request: async <T>(req: KubeRequest, what: string): Promise<T> => {
        if (req.path.endsWith("/selfsubjectaccessreviews") && failures > 0) throw new Error(`connect ECONNREFUSED (${failures--})`);
        return request<T>(req, what);
      },
    };
    kube.release();
    const cluster = prepareCluster({ client, services: [WEB], lockNamespace: "locks", log, firstCheckWaitMs: 20, monitor: { backoff: () => 30 } });
    await cluster.view.start();
    expect(cluster.view.synced()).toBe(true);
    expect(kube.calls.some((c) => c.path === "/apis/coordination.k8s.io/v1/namespaces/locks/leases")).toBe(true);
    const before = cluster.readiness();
    expect(before.ready).toBe(false);
    expect(before.detail.join("\n")).toContain("permission self-check failed: connect ECONNREFUSED");
    for (let i = 0; i < 100 && !cluster.monitor.checked(); i++) await Bun.sleep(10);
    expect(failures).toBe(0);
    expect(cluster.readiness()).toEqual({ ready: true, detail: [] });
    cluster.view.stop();
  });
});
